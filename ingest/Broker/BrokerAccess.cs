namespace Telemetry.Ingest.Broker;

/// <summary>Who a connected client of the embedded broker is.</summary>
internal enum ClientRole
{
    /// <summary>A device, which may speak only as itself.</summary>
    Device,

    /// <summary>A consumer of the alert and quality streams (an account in <c>Broker:Accounts</c>).</summary>
    Consumer,

    /// <summary>The service's own clients.</summary>
    Service,

    /// <summary>No credentials, allowed only with <c>Broker:AllowAnonymous=true</c> (a lab setting).</summary>
    Anonymous,
}

/// <summary>
/// The embedded broker's access rules, the same as deploy/mosquitto/acl for Mosquitto:
/// a device writes only under <c>devices/{its id}/</c> and reads only its own ack and errors topics;
/// a consumer reads <c>alerts/#</c> and <c>quality/#</c> and writes nothing; the service may do anything.
/// </summary>
internal static class BrokerAccess
{
    public static bool CanPublish(ClientRole role, string? deviceId, string topic) => role switch
    {
        ClientRole.Service or ClientRole.Anonymous => true,
        ClientRole.Device => deviceId is not null
            && topic.Length > 9 + deviceId.Length
            && topic.StartsWith("devices/", StringComparison.Ordinal)
            && topic.AsSpan(8).StartsWith(deviceId, StringComparison.Ordinal)
            && topic[8 + deviceId.Length] == '/',
        _ => false,
    };

    public static bool CanSubscribe(ClientRole role, string? deviceId, string filter) => role switch
    {
        ClientRole.Service or ClientRole.Anonymous => true,
        ClientRole.Device => deviceId is not null
            && (filter == $"devices/{deviceId}/ack" || filter == $"devices/{deviceId}/errors"),
        ClientRole.Consumer => IsWithin(filter, "alerts") || IsWithin(filter, "quality"),
        _ => false,
    };

    /// <summary>True when every topic <paramref name="filter"/> can match lies under <paramref name="root"/>/.</summary>
    private static bool IsWithin(string filter, string root) =>
        filter.Length > root.Length + 1 && filter.StartsWith(root, StringComparison.Ordinal) && filter[root.Length] == '/';
}
