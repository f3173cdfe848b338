namespace Telemetry.Ingest.Broker;

/// <summary>
/// Who a client of the embedded broker is, derived from the credentials of its CONNECT: the role, and the
/// name that owns client ids and topics (the device id or the consumer account; null for the service and for
/// clients without credentials).
/// </summary>
internal readonly record struct ClientIdentity(ClientRole Role, string? Name)
{
    /// <summary>Allowed nothing: what a client is taken to be when its session carries no identity.</summary>
    public static ClientIdentity Nobody { get; } = new(ClientRole.Device, null);

    public static ClientIdentity Service { get; } = new(ClientRole.Service, null);

    public static ClientIdentity Device(string id) => new(ClientRole.Device, id);

    public static ClientIdentity Consumer(string? account) => new(ClientRole.Consumer, account);

    public static ClientIdentity Anonymous { get; } = new(ClientRole.Anonymous, null);
}
