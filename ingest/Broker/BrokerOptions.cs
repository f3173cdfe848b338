namespace Telemetry.Ingest.Broker;

/// <summary>Broker settings. Section <c>Broker</c>.</summary>
public sealed class BrokerOptions
{
    public const string SectionName = "Broker";

    /// <summary>Embedded (default) or External.</summary>
    public BrokerMode Mode { get; set; } = BrokerMode.Embedded;

    /// <summary>Where the service's own MQTT clients connect. Default 127.0.0.1.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Broker port; the embedded broker listens on it. Default 1883.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>
    /// Address the embedded broker binds to. Default 127.0.0.1: MQTTnet allocates the length a packet header
    /// announces before authenticating, so the listener must not face a network unguarded.
    /// </summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Put the packet-size guard in front of the embedded broker (see PacketSizeGuard). Unset (default): on
    /// whenever <see cref="BindAddress"/> is not a loopback address.
    /// </summary>
    public bool? Guard { get; set; }

    /// <summary>Largest packet a client may send through the guard, in bytes. Default 131072 (uplink payloads are at most 64 KiB).</summary>
    public int MaxPacketSize { get; set; } = 128 * 1024;

    /// <summary>Largest first packet (CONNECT, sent before authentication) through the guard. Default 8192.</summary>
    public int MaxConnectPacketSize { get; set; } = 8 * 1024;

    /// <summary>Whether the embedded broker accepts clients without credentials, with full access. Default
    /// false; meant only for a lab.</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>
    /// The service's own account. External mode: the account the broker knows (deploy/mosquitto/). Embedded
    /// mode: defaults to <c>telemetry-service</c> with a random password made at start-up.
    /// </summary>
    public string Username { get; set; } = string.Empty;

    public string Password { get; set; } = string.Empty;

    /// <summary>
    /// The secret that device tokens are derived from (see docs/uplink.md). Empty (default): the service
    /// makes one on first start and keeps it in <c>{Storage:DataDirectory}/broker/device-secret</c>.
    /// </summary>
    public string DeviceSecret { get; set; } = string.Empty;

    /// <summary>
    /// Whether clients without credentials may connect as read-only consumers of <c>alerts/#</c> and
    /// <c>quality/#</c> (they can publish nothing and read no device topic). Unset (default): only in the
    /// <c>--simulate</c> demo with the broker bound to loopback, so <c>mosquitto_sub -t 'alerts/#'</c> works there.
    /// </summary>
    public bool? AnonymousConsumers { get; set; }

    /// <summary>Consumers of <c>alerts/#</c> and <c>quality/#</c> on the embedded broker (customer service, the app backend).</summary>
    public List<BrokerAccount> Accounts { get; set; } = [];

    /// <summary>Prefix of the service's MQTT client ids; the subscriber is <c>{prefix}-ingest</c>. Default <c>telemetry</c>.
    /// In a cluster each instance needs its own, kept across restarts: it names the persistent session that holds
    /// what the broker assigned to that instance.</summary>
    public string ClientIdPrefix { get; set; } = "telemetry";

    /// <summary>
    /// A shared-subscription group (MQTT 5 <c>$share/{group}/...</c>; Mosquitto accepts it from MQTT 3.1.1 clients too):
    /// every instance subscribes to <c>$share/{group}/devices/+/telemetry</c> and the rest, and the broker gives each
    /// message to one of them. Empty (the default): a plain subscription, every message to this instance.
    /// </summary>
    public string SharedGroup { get; set; } = string.Empty;

    /// <summary>How long the broker keeps the subscriber's session (and queues for it) while it is away. Default 1 day.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Unacknowledged QoS 1 messages the broker may have in flight to the subscriber (MQTT 5
    /// receive maximum). Default 4096: with a backlog, a device's messages then reach its grain several to a call
    /// (docs/performance.md, "seventh session"); <see cref="ReceiveWindowBytes"/> bounds what they may weigh. The
    /// subscriber keeps to it even when the broker does not (Mosquitto 2.0.11 with a backlog); MQTTnet's server does
    /// not honour it, so the embedded broker enforces <see cref="ServiceWindow"/> instead.</summary>
    public ushort ReceiveMaximum { get; set; } = 4096;

    /// <summary>
    /// The same window in bytes: payload bytes the subscriber has read and not yet acknowledged. Above it the
    /// subscriber stops reading its connection until acknowledgements bring it back under (TCP holds the broker back;
    /// counted as <c>subscriber.window_bytes_full</c>). MQTT has no such limit, so it is kept on this side only. It
    /// bounds the memory of deliveries in the pipeline (MQTTnet's packet and the pipeline's pooled copy: at most three
    /// times this, docs/deployment.md), whatever <see cref="ReceiveMaximum"/> and the payloads' sizes. Default 32 MiB.
    /// 64 KiB to 1 GiB.
    /// </summary>
    public long ReceiveWindowBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>
    /// Embedded mode: device messages the broker lets queue for, or be in flight to, the service without its
    /// acknowledgement; past that, publishing devices are paused (not read, no PUBACK) until the service
    /// acknowledges. This bounds the service's memory however slow the store is (docs/performance.md).
    /// Unset (default): <see cref="ReceiveMaximum"/>, at most 1024 (<see cref="EffectiveServiceWindow"/>). 1..65535 (MQTT packet ids are 16-bit). Larger
    /// smooths bursts when acknowledgements come in batches; each place may cost up to three copies of a 64 KiB
    /// payload in this process.
    /// </summary>
    public int? ServiceWindow { get; set; }

    /// <summary>
    /// <see cref="ServiceWindow"/>, or when unset <see cref="ReceiveMaximum"/> up to 1024. The embedded broker's window
    /// is in messages only (its session queue is not this side's to bound in bytes), so it does not grow with a larger
    /// Receive Maximum unless asked to.
    /// </summary>
    public int EffectiveServiceWindow => ServiceWindow ?? Math.Min((int)ReceiveMaximum, DefaultServiceWindow);

    /// <summary>The embedded broker's window when neither it nor a smaller Receive Maximum is set.</summary>
    public const int DefaultServiceWindow = 1024;

    /// <summary>External mode: connect to the broker over TLS. Default false.</summary>
    public bool UseTls { get; set; }

    /// <summary>PEM file of the CA that signed the broker's certificate. Empty: the system's trusted roots.</summary>
    public string CaFile { get; set; } = string.Empty;

    /// <summary>PEM certificate and key the service presents to a broker that requires client certificates.</summary>
    public string ClientCertificateFile { get; set; } = string.Empty;

    public string ClientKeyFile { get; set; } = string.Empty;

    /// <summary>Name expected in the broker's certificate, when it differs from <see cref="Host"/>.</summary>
    public string TlsServerName { get; set; } = string.Empty;

    /// <summary>Pause between reconnect attempts and connection checks. Default 1 s.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest wait for the broker to answer CONNECT, SUBSCRIBE, a ping or a DISCONNECT on the service's own
    /// connections. A connection whose check is not answered in time is closed and opened again. Default 10 s;
    /// 100 ms to 5 minutes.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Receive and send buffer of the service's MQTT connections (SO_RCVBUF/SO_SNDBUF; Linux caps it at
    /// net.core.rmem_max/wmem_max). Default 1 MiB. MQTTnet's own default, 8 KiB, throttled the subscriber to about
    /// ten 3 KB messages a second after a drain (docs/reliability.md). 64 KiB to 64 MiB.
    /// </summary>
    public int SocketBufferBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How often the subscriber checks that the broker still delivers to it: while no probe is on its way it
    /// publishes one to <c>devices/$probe/telemetry</c>, which comes back through its own subscription behind
    /// whatever the broker has queued for it. Default 5 s; zero turns the check off.
    /// </summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A stall: the probe has not come back while, for this long, every check found the pipeline idle (nothing
    /// queued, held or in a round) and fewer than <see cref="ReceiveMaximum"/> deliveries (at most 1024) arrived. The broker is then
    /// not sending what it has (MQTTnet's 8 KiB sockets crawled like this after a drain, docs/reliability.md), and the
    /// subscriber reconnects, which makes the broker start again. Consecutive stalls double it, up to 8×. Default 15 s.
    /// </summary>
    public TimeSpan StallAfter { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>A consumer account of the embedded broker: may subscribe to alerts/# and quality/#, may not publish.</summary>
public sealed class BrokerAccount
{
    public string Username { get; set; } = string.Empty;

    public string Password { get; set; } = string.Empty;
}
