namespace Telemetry.Ingest.Broker;

/// <summary>Who a connected client of the embedded broker is.</summary>
internal enum ClientRole
{
    /// <summary>A device, which may speak only as itself.</summary>
    Device,

    /// <summary>A consumer of the alert and quality streams: an account in <c>Broker:Accounts</c>, or, in the
    /// demo, a client without credentials.</summary>
    Consumer,

    /// <summary>The service's own clients.</summary>
    Service,

    /// <summary>No credentials, allowed only with <c>Broker:AllowAnonymous=true</c> (a lab setting).</summary>
    Anonymous,
}

/// <summary>What the embedded broker decided about a PUBLISH.</summary>
internal enum PublishDecision
{
    Allowed,

    /// <summary>A topic outside what the client may write (for a device: its own birth, telemetry and telemetry/cbor).</summary>
    OutsideOwnTopics,

    /// <summary>A retained message anywhere but a device's birth: the broker would keep it forever.</summary>
    RetainedOutsideBirth,

    /// <summary>A retained birth over the uplink's 64 KiB limit: the broker would keep it for good.</summary>
    RetainedTooLarge,

    /// <summary>A topic name with a wildcard, which MQTT forbids in PUBLISH (MQTT 5 §3.3.2.1): a protocol error.</summary>
    WildcardInTopic,
}

/// <summary>
/// The embedded broker's access rules, the same as deploy/mosquitto/ for Mosquitto:
/// a device writes only <c>devices/{its id}/birth</c> (retained or not), <c>devices/{its id}/telemetry</c> and
/// <c>devices/{its id}/telemetry/cbor</c> (not retained) and reads only its own ack and errors topics; a consumer reads <c>alerts/#</c> and
/// <c>quality/#</c> and writes nothing; the service may do anything.
/// A client id belongs to one identity: a device's own id or <c>{id}.{suffix}</c>, an account's name or
/// <c>{name}.{suffix}</c>, the service's ids <c>{prefix}-…</c>; any client may instead let the broker assign one.
/// </summary>
internal static class BrokerAccess
{
    /// <summary>Longest suffix after the dot in <c>{id}.{suffix}</c>.</summary>
    public const int MaxSuffixLength = 64;

    public static PublishDecision CanPublish(ClientIdentity who, string topic, bool retain)
    {
        if (topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            return PublishDecision.WildcardInTopic;
        }

        switch (who.Role)
        {
            case ClientRole.Service or ClientRole.Anonymous:
                return PublishDecision.Allowed;
            case ClientRole.Device when who.Name is { } device && IsDeviceTopic(topic, device, "birth"):
                return PublishDecision.Allowed;
            case ClientRole.Device when who.Name is { } device
                && (IsDeviceTopic(topic, device, "telemetry") || IsDeviceTopic(topic, device, "telemetry/cbor")):
                // Retained telemetry would be kept by the broker and replayed to every new subscriber.
                return retain ? PublishDecision.RetainedOutsideBirth : PublishDecision.Allowed;
            default:
                return PublishDecision.OutsideOwnTopics;
        }
    }

    public static bool CanSubscribe(ClientIdentity who, string filter) => who.Role switch
    {
        ClientRole.Service or ClientRole.Anonymous => true,
        ClientRole.Device => who.Name is { } device
            && (IsDeviceTopic(filter, device, "ack") || IsDeviceTopic(filter, device, "errors")),
        ClientRole.Consumer => IsWithin(filter, "alerts") || IsWithin(filter, "quality"),
        _ => false,
    };

    /// <summary>
    /// Whether <paramref name="who"/> may connect with <paramref name="clientId"/> (one it chose; an id the broker
    /// assigned is always allowed). A session belongs to its client id, so an id used by two identities would
    /// let one resume the other's session: its subscriptions and queued messages.
    /// </summary>
    public static bool MayUseClientId(ClientIdentity who, string clientId, string servicePrefix)
    {
        if (IsServiceClientId(clientId, servicePrefix))
        {
            return who.Role == ClientRole.Service;
        }

        return who.Role switch
        {
            ClientRole.Device or ClientRole.Consumer when who.Name is { } name => IsOwnClientId(clientId, name),
            // Lab mode (Broker:AllowAnonymous) is full access by definition; the service's ids stay its own.
            ClientRole.Anonymous => true,
            // The service's clients use its prefix; clients without credentials let the broker assign an id.
            _ => false,
        };
    }

    /// <summary>The service's client ids: <c>{prefix}</c>, <c>{prefix}-…</c> and <c>{prefix}.…</c>.</summary>
    public static bool IsServiceClientId(string clientId, string servicePrefix) =>
        clientId.StartsWith(servicePrefix, StringComparison.Ordinal)
        && (clientId.Length == servicePrefix.Length || clientId[servicePrefix.Length] is '-' or '.');

    /// <summary><paramref name="name"/> itself, or <c>{name}.{suffix}</c> with a suffix of 1-64 of [A-Za-z0-9_-].</summary>
    private static bool IsOwnClientId(string clientId, string name)
    {
        if (!clientId.StartsWith(name, StringComparison.Ordinal))
        {
            return false;
        }

        if (clientId.Length == name.Length)
        {
            return true;
        }

        var suffix = clientId.AsSpan(name.Length + 1);
        return clientId[name.Length] == '.' && suffix.Length is > 0 and <= MaxSuffixLength
            && !suffix.ContainsAnyExcept(SuffixCharacters);
    }

    private static readonly System.Buffers.SearchValues<char> SuffixCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

    /// <summary><c>devices/{device}/{leaf}</c> exactly.</summary>
    private static bool IsDeviceTopic(string topic, string device, string leaf) =>
        topic.Length == 8 + device.Length + 1 + leaf.Length
        && topic.StartsWith("devices/", StringComparison.Ordinal)
        && topic.AsSpan(8).StartsWith(device, StringComparison.Ordinal)
        && topic[8 + device.Length] == '/'
        && topic.AsSpan(9 + device.Length).SequenceEqual(leaf);

    /// <summary>True when every topic <paramref name="filter"/> can match lies under <paramref name="root"/>/.</summary>
    private static bool IsWithin(string filter, string root) =>
        filter.Length > root.Length + 1 && filter.StartsWith(root, StringComparison.Ordinal) && filter[root.Length] == '/';
}
