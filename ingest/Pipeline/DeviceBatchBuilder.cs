using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// Gathers one device's messages during a round. Builders are reused across rounds, so the only
/// allocation per batch is the final set of arrays the grain receives.
/// </summary>
internal sealed class DeviceBatchBuilder
{
    private readonly List<BatchMessage> _messages = [];
    private readonly List<ReadingRecord> _readings = [];
    private readonly List<MetricValue> _metrics = [];
    private byte[] _prefix = new byte[256];

    public string DeviceId { get; private set; } = string.Empty;

    public DeviceBirth? Birth { get; set; }

    /// <summary>Some message of this batch was staged before, in a round that was held: the grain may have applied it
    /// then, so what it reports as duplicates may be that round's, not the device's.</summary>
    public bool Restaged { get; set; }

    /// <summary>Broker deliveries to acknowledge once the grain has the batch.</summary>
    public int MessageCount => _messages.Count;

    public int ReadingCount => _readings.Count;

    public void Start(string deviceId)
    {
        DeviceId = deviceId;
        Birth = null;
        Restaged = false;
        _messages.Clear();
        _readings.Clear();
        _metrics.Clear();
    }

    public bool Contains(MessageKey key)
    {
        foreach (var message in _messages)
        {
            if (message.Key == key)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Adds a handled message without readings, already accounted for here: rejected as a whole, or a
    /// redelivery to acknowledge again.</summary>
    public void AddHandled(MessageKey key) => _messages.Add(new BatchMessage(key, _readings.Count, 0, 0, Known: true));

    /// <summary>Adds a message and the readings of <paramref name="decoded"/> that passed validation.</summary>
    public void AddAccepted(MessageKey key, Uplink.DecodedTelemetry decoded)
    {
        var first = _readings.Count;
        foreach (ref readonly var reading in decoded.ReadingSpan)
        {
            if (reading.Reason != Uplink.RejectReason.None)
            {
                continue;
            }

            _readings.Add(new ReadingRecord(reading.TimestampMs, _metrics.Count, reading.MetricCount));
            _metrics.AddRange(decoded.Metrics.AsSpan(reading.MetricStart, reading.MetricCount));
        }

        _messages.Add(new BatchMessage(key, first, _readings.Count - first, decoded.RejectedReadings));
    }

    /// <summary>
    /// Appends the accepted readings as line protocol: measurement by device kind, tags device, model and
    /// batch, the metrics as fields typed by the catalogue, and boot and seq so a point leads back to its message.
    /// </summary>
    public void WriteLines(Storage.LineProtocol lines, DeviceBirth? birth)
    {
        if (_readings.Count == 0)
        {
            return;
        }

        // The measurement and tags are the same for every line of the device: escape them once, copy after.
        var start = lines.Length;
        // A birth naming a model or batch outside the registry (Quality:KnownModels/KnownBatches) is not written
        // as tags: a rogue device must not create series, nor appear among a real batch's readings.
        var tagged = birth is { Unregistered: false };
        lines.Measurement(birth?.Kind ?? GuessKind())
            .Tag(Storage.ReadingSchema.DeviceTag, DeviceId)
            .Tag(Storage.ReadingSchema.ModelTag, tagged ? birth!.Model : null)
            .Tag(Storage.ReadingSchema.BatchTag, tagged ? birth!.Batch : null);
        var prefixLength = lines.Length - start;
        if (_prefix.Length < prefixLength)
        {
            _prefix = new byte[Math.Max(prefixLength, _prefix.Length * 2)];
        }

        lines.Written.Span.Slice(start, prefixLength).CopyTo(_prefix);
        var firstLine = true;
        foreach (var message in _messages)
        {
            for (var r = message.FirstReading; r < message.FirstReading + message.ReadingCount; r++)
            {
                var reading = _readings[r];
                if (!firstLine)
                {
                    lines.Prefix(_prefix.AsSpan(0, prefixLength));
                }

                firstLine = false;
                for (var m = reading.MetricStart; m < reading.MetricStart + reading.MetricCount; m++)
                {
                    var metric = _metrics[m];
                    lines.Field(metric.Name, metric.Value, IsInteger);
                }

                lines.Field(Storage.ReadingSchema.BootField, message.Key.Boot).Field(Storage.ReadingSchema.SeqField, (long)message.Key.Seq).End(reading.TimestampMs);
            }
        }
    }

    private static readonly Func<string, bool> IsInteger = name => Uplink.MetricCatalogue.TypeOf(name) == Uplink.MetricType.Integer;

    /// <summary>For a device that has sent no birth: a shoe if it sends shoe metrics, otherwise a band.</summary>
    private string GuessKind()
    {
        foreach (var metric in _metrics)
        {
            if (Uplink.MetricCatalogue.IsShoeOnly(metric.Name))
            {
                return "shoe";
            }
        }

        return "band";
    }

    /// <param name="wantsProfile">The caller does not know the twin's profile yet.</param>
    /// <param name="taggedWith">The birth the readings were stored under (<see cref="WriteLines"/>).</param>
    public TelemetryBatch Build(bool wantsProfile = false, DeviceBirth? taggedWith = null) => new()
    {
        Messages = [.. _messages],
        Readings = [.. _readings],
        Metrics = [.. _metrics],
        Birth = Birth,
        WantsProfile = wantsProfile,
        TaggedWith = DeviceBirth.TagStamp(taggedWith ?? Birth),
    };
}
