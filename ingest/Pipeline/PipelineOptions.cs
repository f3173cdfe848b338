namespace Telemetry.Ingest.Pipeline;

/// <summary>Sizing of the ingest pipeline and how it rides out failing dependencies. Section <c>Pipeline</c>.</summary>
public sealed class PipelineOptions
{
    public const string SectionName = "Pipeline";

    /// <summary>
    /// Independent partitions; a device always maps to the same one, which keeps its messages in order.
    /// Default: the number of cores (at least 2), so decoding uses every core while grain calls are awaited.
    /// </summary>
    public int Partitions { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>
    /// Messages queued per partition before the MQTT consumer is slowed down. Every queued message is unacknowledged,
    /// so <c>Broker:ReceiveMaximum</c> and <c>Broker:ReceiveWindowBytes</c> bound the channels together first; this
    /// bounds one partition. Default 4096, the Receive Maximum, so that devices that hash to one partition cannot
    /// fill it and hold the others' messages back.
    /// </summary>
    public int ChannelCapacity { get; set; } = 4096;

    /// <summary>Messages a partition takes into one round (one grain call per device per round). Larger rounds give a
    /// device's grain more of its messages per call. Default 4096.</summary>
    public int MaxRoundMessages { get; set; } = 4096;

    /// <summary>Attempts of a failing grain call within one round before its messages are held for a later
    /// retry. Default 3.</summary>
    public int GrainAttempts { get; set; } = 3;

    /// <summary>
    /// First wait before a held delivery (store or grain failed, twin unreadable, service clock suspect) is
    /// tried again; it doubles per failed retry up to <see cref="MaxRetryDelay"/>, with jitter. Default 100 ms.
    /// </summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest wait between retries of held deliveries. Default 5 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// With a shared subscription (<c>Broker:SharedGroup</c>), how long telemetry is held for a device whose twin has
    /// no birth yet, retried until the twin has one. A device sends its birth on connecting and its telemetry right
    /// after; in a cluster the two may go to different instances, and readings stored before the birth is applied
    /// carry no model or batch tags. A reading sent again after that would be stored a second time, tagged: two
    /// points. After this long the readings are stored untagged, as the contract says of telemetry without a birth.
    /// Such holds do not count against <c>/health</c>. 0 turns it off. Default 3 s.
    /// </summary>
    public TimeSpan BirthWait { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Set from <c>Broker:SharedGroup</c>: other instances may handle a device's birth.</summary>
    internal bool SharedSubscription { get; set; }

    /// <summary>
    /// Deliveries a partition holds for retry before it stops taking new ones from its channel. Held deliveries
    /// are unacknowledged at the broker, so its Receive Maximum usually bounds them first; this bounds memory
    /// (worst case × 64 KiB per partition) with a broker that does not. Default 4096.
    /// </summary>
    public int MaxHeldMessages { get; set; } = 4096;

    /// <summary>
    /// How long deliveries may stay held, or the MQTT handler wait for a full partition, before <c>/health</c>
    /// turns from Degraded to Unhealthy. Default 60 s.
    /// </summary>
    public TimeSpan UnhealthyAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the MQTT handler may wait for a full partition before <c>/health</c> says so
    /// (Degraded). Default 5 s.</summary>
    public TimeSpan FullPartitionWarning { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Distinct devices whose readings are <c>timestamp_in_future</c> within <see cref="ClockSuspectWindow"/>
    /// that make the service suspect its own clock: their messages are then held unacknowledged instead of
    /// rejected as final. A device that stays alone (with fewer others) in being ahead for a whole
    /// <see cref="ClockSuspectWindow"/> is taken to have a wrong clock. Default 3.
    /// </summary>
    public int ClockSuspectDevices { get; set; } = 3;

    /// <summary>Window over which <see cref="ClockSuspectDevices"/> are counted, and the probation during which a
    /// device's readings ahead are held, not rejected, while the service finds out whose clock is wrong. Default 1 min.</summary>
    public TimeSpan ClockSuspectWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The most a wrong service clock is taken to explain: a reading further ahead than this is the device's clock,
    /// rejected as <c>timestamp_in_future</c> at once, never held. Default 1 h (NTP keeps a host far closer; a
    /// clock that has lost more than an hour is an outage to fix, not to wait out).
    /// </summary>
    public TimeSpan MaxServiceClockError { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// At shutdown, how long a partition may take to finish the round in flight (store, grain, ack) before it is
    /// abandoned unacknowledged (the broker redelivers it). Keep it below <c>Shutdown:Timeout</c>. Default 10 s.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
