using System.Diagnostics.Metrics;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// What the pipeline did, counted. Exported as OpenTelemetry-compatible instruments on the
/// <c>Telemetry.Ingest</c> meter and readable in process for the HTTP stats endpoint and tests.
/// </summary>
internal sealed class IngestCounters
{
    public const string MeterName = "Telemetry.Ingest";

    /// <summary>Histogram buckets in seconds, from 1 ms (a round on an idle machine) to 30 s (a store outage retried
    /// before it spills); OpenTelemetry's default buckets are meant for milliseconds and would put every ack in the
    /// first one.</summary>
    public static readonly IReadOnlyList<double> LatencyBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly long[] _rejections = new long[RejectReasons.All.Length + 1];
    private readonly Counter<long> _rejectionCounter;
    private readonly Counter<long> _readingCounter;
    private readonly Histogram<double> _ackDuration;
    private readonly Histogram<double> _storeDuration;
    private readonly Histogram<double> _grainDuration;
    private long _messages;
    private long _readings;
    private long _duplicates;
    private long _errorsDropped;
    private long _grainFailures;
    private long _invalidTopics;
    private long _birthsUnregistered;
    private long _partitionRestarts;
    private long _deliveriesHeld;
    private long _clockHolds;
    private long _deliveriesReceived;
    private long _deliveriesAcknowledged;
    private long _deliveriesAbandoned;
    private long _subscriberStalls;
    private long _brokerWindowExceeded;
    private long _windowBytesFull;
    private long _subscriberUnanswered;

    public IngestCounters(IMeterFactory meterFactory)
    {
        // Instrument names are chosen so that the Prometheus exporter's rules (dots to underscores, the unit as a
        // suffix, _total on counters) give the names docs/operations.md lists: telemetry.readings becomes
        // telemetry_readings_total, telemetry.ack.duration in seconds telemetry_ack_duration_seconds.
        var meter = meterFactory.Create(MeterName);
        _rejectionCounter = meter.CreateCounter<long>("telemetry.rejections", description: "Messages and readings rejected, by reason and level (message or reading)");
        _readingCounter = meter.CreateCounter<long>("telemetry.readings", description: "Readings accepted");
        meter.CreateObservableCounter("telemetry.messages", () => Volatile.Read(ref _messages), description: "Telemetry messages handled");
        meter.CreateObservableCounter("telemetry.duplicates", () => Volatile.Read(ref _duplicates), description: "Telemetry messages seen before");
        meter.CreateObservableCounter("telemetry.ingest.grain_failures", () => Volatile.Read(ref _grainFailures), description: "Device grain calls that failed every attempt (their deliveries are held and retried)");
        meter.CreateObservableCounter("telemetry.ingest.errors_dropped", () => Volatile.Read(ref _errorsDropped), description: "Rejection reports not published to devices/{id}/errors because the outbox was full");
        _ackDuration = meter.CreateHistogram("telemetry.ack.duration", unit: "s",
            description: "From a delivery entering the pipeline to its PUBACK: store, grain call and any hold for a retry",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _storeDuration = meter.CreateHistogram("telemetry.storage.write.duration", unit: "s",
            description: "A round's wait for the store to make its readings durable (database, or the spill file), retries included",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _grainDuration = meter.CreateHistogram("telemetry.grain.call.duration", unit: "s",
            description: "One device grain call with a round's batch (each attempt), by outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        meter.CreateObservableCounter("telemetry.ingest.partition_restarts", () => Volatile.Read(ref _partitionRestarts), description: "Partition workers restarted after a fault");
        meter.CreateObservableCounter("telemetry.ingest.deliveries_received", () => Volatile.Read(ref _deliveriesReceived), description: "Deliveries the subscriber received from the broker");
        meter.CreateObservableCounter("telemetry.ingest.deliveries_acknowledged", () => Volatile.Read(ref _deliveriesAcknowledged), description: "Deliveries acknowledged (PUBACK written)");
        meter.CreateObservableCounter("telemetry.ingest.deliveries_abandoned", () => Volatile.Read(ref _deliveriesAbandoned), description: "Deliveries whose connection closed before they were acknowledged (the broker sends them again)");
        meter.CreateObservableCounter("telemetry.ingest.subscriber_stalls", () => Volatile.Read(ref _subscriberStalls), description: "Reconnects because the broker stopped delivering to an idle subscriber");
        meter.CreateObservableCounter("telemetry.ingest.broker_window_exceeded", () => Volatile.Read(ref _brokerWindowExceeded), description: "Times the broker sent past the subscriber's Receive Maximum and reading was held until acknowledgements caught up");
        meter.CreateObservableCounter("telemetry.ingest.window_bytes_full", () => Volatile.Read(ref _windowBytesFull), description: "Times the deliveries read and not yet acknowledged reached Broker:ReceiveWindowBytes and reading was held until acknowledgements caught up");
        meter.CreateObservableCounter("telemetry.ingest.subscriber_unanswered", () => Volatile.Read(ref _subscriberUnanswered), description: "Reconnects because the broker delivered nothing and did not answer the subscriber's ping or SUBSCRIBE in time");
        meter.CreateObservableCounter("telemetry.ingest.deliveries_held", () => Volatile.Read(ref _deliveriesHeld), description: "Deliveries held unacknowledged for a retry");
    }

    public long Messages => Volatile.Read(ref _messages);

    public long Readings => Volatile.Read(ref _readings);

    public long Duplicates => Volatile.Read(ref _duplicates);

    public long ErrorsDropped => Volatile.Read(ref _errorsDropped);

    public long GrainFailures => Volatile.Read(ref _grainFailures);

    public long InvalidTopics => Volatile.Read(ref _invalidTopics);

    /// <summary>Births applied whose model or batch is outside the registry (Quality:KnownModels/KnownBatches).</summary>
    public long BirthsUnregistered => Volatile.Read(ref _birthsUnregistered);

    /// <summary>Partition workers restarted by their supervisor after a fault.</summary>
    public long PartitionRestarts => Volatile.Read(ref _partitionRestarts);

    /// <summary>Deliveries held unacknowledged for a retry (store or grain failed, twin unreadable, clock suspect).</summary>
    public long DeliveriesHeld => Volatile.Read(ref _deliveriesHeld);

    /// <summary>Holds of messages whose readings were ahead of a service clock suspected to be slow (each retry that
    /// holds again counts).</summary>
    public long ClockHolds => Volatile.Read(ref _clockHolds);

    public long Rejections(RejectReason reason) => Volatile.Read(ref _rejections[(int)reason]);

    public void Rejected(RejectReason reason, string level)
    {
        Interlocked.Increment(ref _rejections[(int)reason]);
        _rejectionCounter.Add(1, new KeyValuePair<string, object?>("reason", reason.WireName()), new KeyValuePair<string, object?>("level", level));
    }

    public void MessageHandled() => Interlocked.Increment(ref _messages);

    public void ReadingsAccepted(int count)
    {
        Interlocked.Add(ref _readings, count);
        _readingCounter.Add(count);
    }

    public void Duplicate(int count) => Interlocked.Add(ref _duplicates, count);

    /// <summary>A delivery's PUBACK was written <paramref name="elapsed"/> after it entered the pipeline.</summary>
    public void AckTook(TimeSpan elapsed) => _ackDuration.Record(elapsed.TotalSeconds);

    /// <summary>A round's store write returned (durable, or failed) after <paramref name="elapsed"/>.</summary>
    public void StoreWriteTook(TimeSpan elapsed, bool stored) =>
        _storeDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", stored ? "ok" : "failed"));

    /// <summary>One attempt of a device grain call returned, or threw, after <paramref name="elapsed"/>.</summary>
    public void GrainCallTook(TimeSpan elapsed, bool succeeded) =>
        _grainDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", succeeded ? "ok" : "failed"));

    public void ErrorDropped() => Interlocked.Increment(ref _errorsDropped);

    public void GrainFailed() => Interlocked.Increment(ref _grainFailures);

    public void InvalidTopic() => Interlocked.Increment(ref _invalidTopics);

    public void BirthUnregistered() => Interlocked.Increment(ref _birthsUnregistered);

    public void PartitionRestarted() => Interlocked.Increment(ref _partitionRestarts);

    public void DeliveryHeld() => Interlocked.Increment(ref _deliveriesHeld);

    public void ClockHeld() => Interlocked.Increment(ref _clockHolds);

    /// <summary>Deliveries the subscriber received, probes included.</summary>
    public long DeliveriesReceived => Volatile.Read(ref _deliveriesReceived);

    /// <summary>Deliveries whose PUBACK was written.</summary>
    public long DeliveriesAcknowledged => Volatile.Read(ref _deliveriesAcknowledged);

    /// <summary>Deliveries never acknowledged on their connection: it closed first (the broker sends them again), or the service stopped.</summary>
    public long DeliveriesAbandoned => Volatile.Read(ref _deliveriesAbandoned);

    /// <summary>Received and neither acknowledged nor abandoned: what the broker counts against its in-flight window now.</summary>
    public long DeliveriesOutstanding
    {
        get
        {
            // Done first: a delivery is counted received before it can be done, so this never goes below zero.
            var done = DeliveriesAcknowledged + DeliveriesAbandoned;
            return Math.Max(0, DeliveriesReceived - done);
        }
    }

    /// <summary>Reconnects because the broker stopped delivering to a subscriber that was ready for more.</summary>
    public long SubscriberStalls => Volatile.Read(ref _subscriberStalls);

    public void DeliveryReceived() => Interlocked.Increment(ref _deliveriesReceived);

    public void DeliveryAcknowledged() => Interlocked.Increment(ref _deliveriesAcknowledged);

    public void DeliveryAbandoned() => Interlocked.Increment(ref _deliveriesAbandoned);

    public void SubscriberStalled() => Interlocked.Increment(ref _subscriberStalls);

    /// <summary>Times the broker sent more unacknowledged deliveries than the subscriber's Receive Maximum allows.</summary>
    public long BrokerWindowExceeded => Volatile.Read(ref _brokerWindowExceeded);

    public void BrokerExceededWindow() => Interlocked.Increment(ref _brokerWindowExceeded);

    /// <summary>Times the subscriber stopped reading because its unacknowledged deliveries reached Broker:ReceiveWindowBytes.</summary>
    public long WindowBytesFull => Volatile.Read(ref _windowBytesFull);

    public void WindowBytesFilled() => Interlocked.Increment(ref _windowBytesFull);

    /// <summary>Reconnects because the broker delivered nothing and did not answer the subscriber's ping or SUBSCRIBE within Broker:ResponseTimeout.</summary>
    public long SubscriberUnanswered => Volatile.Read(ref _subscriberUnanswered);

    public void SubscriberNotAnswered() => Interlocked.Increment(ref _subscriberUnanswered);
}
