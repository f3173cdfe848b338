using System.Text.RegularExpressions;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Fuzz;

/// <summary>
/// What the uplink decoders (telemetry in JSON and in CBOR, births) promise for any payload whatsoever
/// (docs/uplink.md), checked on one input: no exception escapes; a message or birth is either accepted or rejected with a reason and a detail; whatever is
/// accepted obeys the contract (finite values, catalogue ranges, name and id rules, 1–500 readings, 1–32 metrics,
/// the time window); and decoding the same bytes twice gives the same result. The identifier rules are checked
/// with the documented regular expressions, not with the decoders' own byte checks, so the oracle is independent.
/// </summary>
public static partial class DecoderContract
{
    /// <summary>
    /// Service time for the telemetry decoder: the vectors' epoch (tests/vectors/manifest.json) plus one minute,
    /// as the vector tests use, so the seeds' readings fall inside the time window and the fuzzer starts from
    /// accepted messages.
    /// </summary>
    public const long NowMs = 1_795_428_000_000 + 60_000;

    private static readonly UplinkOptions Options = new();
    private static readonly long MaxFutureMs = (long)Options.MaxFutureSkew.TotalMilliseconds;
    private static readonly long MaxAgeMs = (long)Options.MaxAge.TotalMilliseconds;

    // One decoder and one buffer for every input, as a pipeline partition keeps them, so that state leaking
    // from one message into the next shows up. The lock is for the unit tests; the fuzzer is single-threaded.
    private static readonly Lock Gate = new();
    private static readonly TelemetryDecoder Decoder = new(Options);
    private static readonly TelemetryDecoder GeneralDecoder = new(Options, plainPath: false);
    private static readonly CborTelemetryDecoder CborDecoder = new(Options);
    private static readonly DecodedTelemetry Decoded = new();
    private static readonly DecodedTelemetry GeneralDecoded = new();

    /// <summary>Feeds <paramref name="payload"/> to every decoder; throws on anything the contract forbids.</summary>
    /// <exception cref="DecoderContractException">A decoder accepted or rejected the payload wrongly.</exception>
    public static void Check(ReadOnlySpan<byte> payload)
    {
        lock (Gate)
        {
            CheckTelemetry(payload, Decoder, Decoded);
            CheckPlainReader(payload, Decoded);
            CheckCborTelemetry(payload, CborDecoder, Decoded);
        }

        CheckBirth(payload);
    }

    internal static void CheckTelemetry(ReadOnlySpan<byte> payload, TelemetryDecoder decoder, DecodedTelemetry into)
    {
        var first = Verify(decoder.Decode(payload, NowMs, into), into);
        var second = Verify(decoder.Decode(payload, NowMs, into), into);
        if (first != second)
        {
            throw Violation("telemetry", "decoding the same payload twice gave different results");
        }
    }

    /// <summary>
    /// The JSON decoder reads the plain shape firmware sends without a tokenizer and leaves the rest to
    /// Utf8JsonReader: its result for <paramref name="payload"/>, already in <paramref name="decoded"/>, must be
    /// the general reader's alone, every detail and every value's bits.
    /// </summary>
    internal static void CheckPlainReader(ReadOnlySpan<byte> payload, DecodedTelemetry decoded)
    {
        GeneralDecoder.Decode(payload, NowMs, GeneralDecoded);
        if (Difference(GeneralDecoded, decoded) is { } difference)
        {
            throw Violation("telemetry", $"the plain reader and the general reader disagree on {difference}");
        }
    }

    /// <summary>The first way in which two decoded messages differ, or null when they are the same in every detail.</summary>
    internal static string? Difference(DecodedTelemetry general, DecodedTelemetry decoded)
    {
        if ((general.Reason, general.Detail, general.Version, general.Boot, general.Seq) != (decoded.Reason, decoded.Detail, decoded.Version, decoded.Boot, decoded.Seq))
        {
            return $"the message: {general.Reason} '{general.Detail}' against {decoded.Reason} '{decoded.Detail}'";
        }

        if ((general.ReadingCount, general.RejectedReadings, general.MetricCount, general.HasCustomMetrics)
            != (decoded.ReadingCount, decoded.RejectedReadings, decoded.MetricCount, decoded.HasCustomMetrics))
        {
            return "the counts of readings and metrics";
        }

        for (var i = 0; i < general.ReadingCount; i++)
        {
            var (g, d) = (general.Readings[i], decoded.Readings[i]);
            if ((g.Reason, g.Detail, g.TimestampMs, g.MetricStart, g.MetricCount) != (d.Reason, d.Detail, d.TimestampMs, d.MetricStart, d.MetricCount))
            {
                return $"reading {i}: {g.Reason} '{g.Detail}' against {d.Reason} '{d.Detail}'";
            }
        }

        for (var m = 0; m < general.MetricCount; m++)
        {
            if (general.Metrics[m].Name != decoded.Metrics[m].Name
                || BitConverter.DoubleToInt64Bits(general.Metrics[m].Value) != BitConverter.DoubleToInt64Bits(decoded.Metrics[m].Value))
            {
                return $"metric {m}: {general.Metrics[m]} against {decoded.Metrics[m]}";
            }
        }

        return null;
    }

    internal static void CheckCborTelemetry(ReadOnlySpan<byte> payload, CborTelemetryDecoder decoder, DecodedTelemetry into)
    {
        var first = Verify(decoder.Decode(payload, NowMs, into), into);
        var second = Verify(decoder.Decode(payload, NowMs, into), into);
        if (first != second)
        {
            throw Violation("cbor telemetry", "decoding the same payload twice gave different results");
        }
    }

    /// <summary>Checks one decoded message against the contract; returns a fingerprint of the outcome.</summary>
    internal static int Verify(RejectReason reason, DecodedTelemetry decoded)
    {
        if (reason != decoded.Reason)
        {
            throw Violation("telemetry", $"returned {reason} but recorded {decoded.Reason}");
        }

        var outcome = new HashCode();
        outcome.Add(reason);
        if (reason != RejectReason.None)
        {
            RequireReason("telemetry", reason, decoded.Detail);
            return outcome.ToHashCode();
        }

        if (decoded.Version != 1)
        {
            throw Violation("telemetry", $"accepted v={decoded.Version}");
        }

        if (decoded.Boot is null || !BootId().IsMatch(decoded.Boot))
        {
            throw Violation("telemetry", $"accepted boot '{decoded.Boot}'");
        }

        if (decoded.Seq is null)
        {
            throw Violation("telemetry", "accepted a message without seq");
        }

        if (decoded.ReadingCount is < 1 or > DecodedTelemetry.MaxReadings)
        {
            throw Violation("telemetry", $"accepted {decoded.ReadingCount} readings, outside 1..{DecodedTelemetry.MaxReadings}");
        }

        outcome.Add(decoded.Boot);
        outcome.Add(decoded.Seq);
        var rejected = 0;
        var metrics = 0;
        for (var i = 0; i < decoded.ReadingCount; i++)
        {
            var reading = decoded.Readings[i];
            outcome.Add(reading.Reason);
            if (reading.Reason != RejectReason.None)
            {
                RequireReason($"telemetry reading {i}", reading.Reason, reading.Detail);
                if (reading.MetricCount != 0)
                {
                    throw Violation("telemetry", $"rejected reading {i} still holds {reading.MetricCount} metrics");
                }

                rejected++;
                continue;
            }

            if (reading.MetricStart != metrics)
            {
                throw Violation("telemetry", $"reading {i} starts at metric {reading.MetricStart}, expected {metrics}");
            }

            VerifyReading(i, reading, decoded.Metrics.AsSpan(reading.MetricStart, reading.MetricCount), ref outcome);
            metrics += reading.MetricCount;
        }

        if (rejected != decoded.RejectedReadings)
        {
            throw Violation("telemetry", $"{rejected} readings carry a reason but RejectedReadings is {decoded.RejectedReadings}");
        }

        if (metrics != decoded.MetricCount)
        {
            throw Violation("telemetry", $"accepted readings hold {metrics} metrics but MetricCount is {decoded.MetricCount}");
        }

        return outcome.ToHashCode();
    }

    private static void VerifyReading(int index, DecodedReading reading, ReadOnlySpan<MetricValue> metrics, ref HashCode outcome)
    {
        if (reading.MetricCount is < 1 or > DecodedTelemetry.MaxMetricsPerReading)
        {
            throw Violation("telemetry", $"accepted reading {index} with {reading.MetricCount} metrics, outside 1..{DecodedTelemetry.MaxMetricsPerReading}");
        }

        if (reading.TimestampMs > NowMs + MaxFutureMs || reading.TimestampMs < NowMs - MaxAgeMs)
        {
            throw Violation("telemetry", $"accepted reading {index} with ts={reading.TimestampMs}, outside the time window around {NowMs}");
        }

        outcome.Add(reading.TimestampMs);
        for (var m = 0; m < metrics.Length; m++)
        {
            var (name, value) = (metrics[m].Name, metrics[m].Value);
            if (name is null || !MetricName().IsMatch(name))
            {
                throw Violation("telemetry", $"accepted metric name '{name}' in reading {index}");
            }

            if (!double.IsFinite(value))
            {
                throw Violation("telemetry", $"accepted {name}={value} in reading {index}: not finite");
            }

            if (MetricCatalogue.Find(name) is { } definition)
            {
                if (value < definition.Min || value > definition.Max)
                {
                    throw Violation("telemetry", $"accepted {name}={value} in reading {index}, outside {definition.Min}..{definition.Max}");
                }

                if (definition.Type == MetricType.Integer && value != Math.Floor(value))
                {
                    throw Violation("telemetry", $"accepted integer metric {name}={value} in reading {index}");
                }
            }

            for (var earlier = 0; earlier < m; earlier++)
            {
                if (string.Equals(metrics[earlier].Name, name, StringComparison.Ordinal))
                {
                    throw Violation("telemetry", $"accepted {name} twice in reading {index}");
                }
            }

            outcome.Add(name);
            outcome.Add(value);
        }
    }

    internal static void CheckBirth(ReadOnlySpan<byte> payload)
    {
        var first = Verify(BirthDecoder.Decode(payload, out var reason, out var detail), reason, detail);
        var second = Verify(BirthDecoder.Decode(payload, out reason, out detail), reason, detail);
        if (first != second)
        {
            throw Violation("birth", "decoding the same payload twice gave different results");
        }
    }

    /// <summary>Checks one decoded birth against the contract; returns it (null when rejected).</summary>
    internal static DeviceBirth? Verify(DeviceBirth? birth, RejectReason reason, string? detail)
    {
        if (birth is null)
        {
            RequireReason("birth", reason, detail);
            return null;
        }

        if (reason != RejectReason.None || detail is not null)
        {
            throw Violation("birth", $"returned a birth and also {reason} ({detail})");
        }

        string? problem = birth.Kind is not ("shoe" or "band") ? $"kind '{birth.Kind}'"
            : !ModelOrBatchId().IsMatch(birth.Model) ? $"model '{birth.Model}'"
            : !ModelOrBatchId().IsMatch(birth.Batch) ? $"batch '{birth.Batch}'"
            : birth.Firmware.Length > 32 ? $"firmware of {birth.Firmware.Length} characters"
            : birth.Manufactured is null ? "no manufactured date"
            : birth.WearerKg is { } kg && !(double.IsFinite(kg) && kg is >= 30 and <= 200) ? $"wearer_kg={kg}"
            : birth.RatedCapacityMah is { } mah && !(double.IsFinite(mah) && mah is > 0 and <= 5000) ? $"rated_capacity_mah={mah}"
            : birth.Parts is { } parts && InstalledParts.Names.FirstOrDefault(p => parts[p] is { } serial && !ModelOrBatchId().IsMatch(serial)) is { } part
                ? $"parts.{part} '{parts[part]}'"
            : null;
        return problem is null ? birth : throw Violation("birth", $"accepted {problem}");
    }

    private static void RequireReason(string what, RejectReason reason, string? detail)
    {
        // rate_limited is the pipeline's verdict, never a decoder's.
        if (reason is RejectReason.None or RejectReason.RateLimited || !Enum.IsDefined(reason))
        {
            throw Violation(what, $"rejected with reason {reason}");
        }

        if (string.IsNullOrEmpty(detail))
        {
            throw Violation(what, $"rejected with {reason.WireName()} but no detail");
        }
    }

    private static DecoderContractException Violation(string what, string problem) => new($"{what}: {problem}");

    // \z rather than $: $ also matches before a final newline.
    [GeneratedRegex(@"^[a-z][a-z0-9_]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,32}\z", RegexOptions.CultureInvariant)]
    private static partial Regex BootId();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ModelOrBatchId();
}
