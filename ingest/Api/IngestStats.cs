namespace Telemetry.Ingest.Api;

/// <summary>Pipeline counters since start, for operators and tests.</summary>
internal sealed record IngestStats
{
    public required long Messages { get; init; }

    public required long Readings { get; init; }

    public required long Duplicates { get; init; }

    public required long InvalidTopics { get; init; }

    public required long ErrorsDropped { get; init; }

    public required long GrainFailures { get; init; }

    /// <summary>Partition workers restarted by their supervisor after a fault.</summary>
    public required long PartitionRestarts { get; init; }

    /// <summary>Deliveries held unacknowledged for a retry since start (store, grain or twin failing, clock suspect).</summary>
    public required long DeliveriesHeld { get; init; }

    /// <summary>Deliveries held for a retry now.</summary>
    public required int Held { get; init; }

    /// <summary>Holds of messages whose readings were ahead of a service clock suspected to be slow (each retry that
    /// holds again counts).</summary>
    public required long ClockHolds { get; init; }

    /// <summary>Charge counts in accepted readings that the twins of this instance did not apply: further ahead of the
    /// twin's counter than a band can charge, a cycle an hour, in the time its earlier rises left unpaid.</summary>
    public required long ChargeCountsIgnored { get; init; }

    public required int Queued { get; init; }

    /// <summary>Rejections by reason code (messages and readings).</summary>
    public required Dictionary<string, long> Rejections { get; init; }

    /// <summary>What the time-series store did with accepted readings.</summary>
    public required StorageStats Storage { get; init; }

    /// <summary>Alerts escalated for missing their first-response SLA.</summary>
    public required long AlertsEscalated { get; init; }

    /// <summary>This instance's alert fan-out: events on their way from twins to the index and the sink.</summary>
    public required AlertDeliveryStats AlertDelivery { get; init; }

    /// <summary>Births applied whose model or batch is outside Quality:KnownModels/KnownBatches.</summary>
    public required long BirthsUnregistered { get; init; }

    /// <summary>What the MQTT subscriber received and acknowledged, and how often the broker stalled.</summary>
    public required SubscriberStats Subscriber { get; init; }

    /// <summary>What the embedded broker refused (all zero with an external broker).</summary>
    public required BrokerStats Broker { get; init; }

    /// <summary>Alert webhooks by index (<c>Alerts:Webhooks:N</c>); empty when none is configured.</summary>
    public IReadOnlyDictionary<string, WebhookStats> Webhooks { get; init; } = new Dictionary<string, WebhookStats>();
}

/// <summary>One webhook's deliveries: counts since start, and what its durable queue holds now.</summary>
internal sealed record WebhookStats
{
    /// <summary>The webhook's identity in the queue: its <c>Name</c>, or <c>url:</c> and a hash of its URL.</summary>
    public string? Name { get; init; }

    /// <summary>Events the receiver accepted (2xx).</summary>
    public required long Delivered { get; init; }

    /// <summary>Of those, events that needed more than one attempt.</summary>
    public required long DeliveredAfterRetry { get; init; }

    /// <summary>Attempts that failed: network error, timeout, 5xx, 429, or a permanent 4xx.</summary>
    public required long FailedAttempts { get; init; }

    /// <summary>Events given up since start (GiveUpAfter passed, or a permanent 4xx).</summary>
    public required long DeadLettered { get; init; }

    /// <summary>Dead-lettered events kept in the queue's dead-letter table, with their reason.</summary>
    public required long DeadLetterHeld { get; init; }

    /// <summary>Events queued and not yet delivered.</summary>
    public required long Pending { get; init; }
}

/// <summary>The MQTT subscriber's deliveries since start.</summary>
internal sealed record SubscriberStats
{
    /// <summary>Deliveries received from the broker, delivery probes included.</summary>
    public required long DeliveriesReceived { get; init; }

    /// <summary>Deliveries whose PUBACK was written.</summary>
    public required long DeliveriesAcknowledged { get; init; }

    /// <summary>Deliveries whose connection closed before they could be acknowledged; the broker sends them again.</summary>
    public required long DeliveriesAbandoned { get; init; }

    /// <summary>Received and not yet acknowledged now: what the broker counts against its in-flight window.</summary>
    public required long DeliveriesOutstanding { get; init; }

    /// <summary>Reconnects because the broker stopped delivering while the pipeline was idle (Broker:StallAfter).</summary>
    public required long Stalls { get; init; }

    /// <summary>Times the broker sent past Broker:ReceiveMaximum and the subscriber stopped reading until its
    /// acknowledgements caught up (Mosquitto 2.0.11 does this with a backlog).</summary>
    public required long WindowExceeded { get; init; }

    /// <summary>Times the deliveries read and not yet acknowledged reached Broker:ReceiveWindowBytes and the subscriber
    /// stopped reading until its acknowledgements caught up: the service's own flow control, normal under a backlog.</summary>
    public required long WindowBytesFull { get; init; }

    /// <summary>Reconnects because the broker, connected as far as the client knew, delivered nothing and did not answer
    /// a ping or the SUBSCRIBE within Broker:ResponseTimeout.</summary>
    public required long Unanswered { get; init; }
}

/// <summary>Embedded-broker refusals since start, by reason.</summary>
internal sealed record BrokerStats
{
    /// <summary>CONNECTs refused: bad_credentials, no_credentials, client_id_not_owned.</summary>
    public required IReadOnlyDictionary<string, long> ConnectionsRefused { get; init; }

    /// <summary>PUBLISHes refused: outside_own_topics, retained_outside_birth, retained_too_large, wildcard_in_topic.</summary>
    public required IReadOnlyDictionary<string, long> PublishesRefused { get; init; }

    public required long SubscriptionsRefused { get; init; }

    /// <summary>The embedded broker's in-flight window towards the service (<c>Broker:ServiceWindow</c>); null with an external broker.</summary>
    public int? ServiceWindow { get; init; }

    /// <summary>Device messages queued for or sent to the service and not yet acknowledged by it: at most the window.</summary>
    public int ServiceInFlight { get; init; }

    /// <summary>Device connections paused now because the window is full.</summary>
    public int WindowWaiting { get; init; }

    /// <summary>Device messages that had to wait for a place in the window, since start.</summary>
    public long WindowWaits { get; init; }

    /// <summary>Seconds device connections spent paused by the window, summed over connections, since start.</summary>
    public double WindowPausedSeconds { get; init; }

    /// <summary>Device messages MQTTnet dropped from the service's full queue (expected 0: the window stays below it).</summary>
    public long ServiceDropped { get; init; }
}

/// <summary>Time-series store counters since start (lines of line protocol; one line per reading).</summary>
internal sealed record StorageStats
{
    public required long LinesWritten { get; init; }

    public required long LinesSpilled { get; init; }

    public required long LinesReplayed { get; init; }

    public required long LinesDeadLettered { get; init; }

    /// <summary>Spilled bytes not yet replayed: non-zero while InfluxDB is unavailable or catching up.</summary>
    public required long SpillBacklogBytes { get; init; }

    public required long Retries { get; init; }

    public required long Splits { get; init; }

    public required long Failures { get; init; }
}

/// <summary>What this instance's alert fan-out has delivered and holds (grains/Alerts/AlertFanOut.cs).</summary>
internal sealed record AlertDeliveryStats
{
    /// <summary>Events handed over by twins and not yet delivered (or dropped as delivered before).</summary>
    public required long Pending { get; init; }

    /// <summary>Events delivered to the index and every destination since start.</summary>
    public required long Delivered { get; init; }

    /// <summary>Devices whose twins are yet to be told their delivered events got through.</summary>
    public required long AwaitingConfirmation { get; init; }

    /// <summary>Events dropped because the twin had handed them over again from a newer activation.</summary>
    public required long Superseded { get; init; }

    /// <summary>Summaries given to the alert index again because the activation that took them died before writing.</summary>
    public required long Resent { get; init; }
}
