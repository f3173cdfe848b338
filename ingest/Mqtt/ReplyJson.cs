using System.Buffers;
using System.Text.Json;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Mqtt;

/// <summary>The JSON the service sends: acks and errors to devices, alert events to consumers.</summary>
internal static class ReplyJson
{
    public static byte[] Ack(MessageKey ack) => Ack(ack, []);

    /// <summary>An ack, with <c>missing</c>: the gaps below the highest seq the service holds, as
    /// <c>[from, to]</c> pairs (inclusive, lowest first), only when there are any, so v1 devices that do not read it
    /// see the ack they always saw.</summary>
    public static byte[] Ack(MessageKey ack, IReadOnlyList<SeqRange> missing) => Write(w =>
    {
        w.WriteString("boot"u8, ack.Boot);
        w.WriteNumber("seq"u8, ack.Seq);
        if (missing.Count > 0)
        {
            w.WriteStartArray("missing"u8);
            foreach (var range in missing)
            {
                w.WriteStartArray();
                w.WriteNumberValue(range.From);
                w.WriteNumberValue(range.To);
                w.WriteEndArray();
            }

            w.WriteEndArray();
        }
    });

    public static byte[] Error(in ErrorReport report)
    {
        var copy = report;
        return Write(w =>
        {
            if (copy.Boot is not null)
            {
                w.WriteString("boot"u8, copy.Boot);
            }

            if (copy.Seq is { } seq)
            {
                w.WriteNumber("seq"u8, seq);
            }

            if (copy.Reading is { } reading)
            {
                w.WriteNumber("reading"u8, reading);
            }

            w.WriteString("reason"u8, copy.Reason.WireName());
            w.WriteString("detail"u8, copy.Detail);
        });
    }

    public static byte[] Alert(AlertEvent alert) => Write(w => WriteAlertBody(w, alert));

    /// <summary>Writes an alert as a JSON object (also used by the HTTP API, so both carry the same shape).</summary>
    public static void WriteAlert(Utf8JsonWriter writer, AlertEvent alert)
    {
        writer.WriteStartObject();
        WriteAlertBody(writer, alert);
        writer.WriteEndObject();
    }

    private static void WriteAlertBody(Utf8JsonWriter w, AlertEvent alert)
    {
        w.WriteString("id"u8, alert.Id);
        // Consumers dedupe on it: the same state change may be delivered more than once, never with another id.
        if (alert.EventId.Length > 0)
        {
            w.WriteString("event_id"u8, alert.EventId);
        }

        w.WriteString("device"u8, alert.Device);
        WriteNullable(w, "kind"u8, alert.Kind);
        WriteNullable(w, "model"u8, alert.Model);
        WriteNullable(w, "batch"u8, alert.Batch);
        w.WriteString("code"u8, alert.Code);
        w.WriteString("severity"u8, Lower(alert.Severity));
        w.WriteString("state"u8, Lower(alert.State));
        w.WriteString("at"u8, Time(alert.At));
        w.WriteString("message"u8, alert.Message);
        w.WriteString("actor"u8, alert.Actor);
        if (alert.Note is not null)
        {
            w.WriteString("note"u8, alert.Note);
        }

        WriteEvidence(w, alert.Evidence);
    }

    /// <summary>The numbers (and texts) behind an alert, as one JSON object.</summary>
    private static void WriteEvidence(Utf8JsonWriter w, EvidenceItem[] evidence)
    {
        w.WriteStartObject("evidence"u8);
        foreach (var item in evidence)
        {
            if (item.Number is { } number)
            {
                w.WriteNumber(item.Key, number);
            }
            else
            {
                w.WriteString(item.Key, item.Text);
            }
        }

        w.WriteEndObject();
    }

    /// <summary>An alert's current state, as listed by <c>GET /api/alerts</c>.</summary>
    public static void WriteSummary(Utf8JsonWriter w, AlertSummary a)
    {
        w.WriteStartObject();
        WriteSummaryBody(w, a);
        w.WriteEndObject();
    }

    /// <summary>An alert with its evidence and history, for <c>GET /api/alerts/{id}</c>.</summary>
    public static void WriteView(Utf8JsonWriter w, AlertView view)
    {
        w.WriteStartObject();
        WriteSummaryBody(w, view.Summary);
        WriteEvidence(w, view.Evidence);
        w.WriteStartArray("history"u8);
        foreach (var step in view.History)
        {
            w.WriteStartObject();
            w.WriteString("state"u8, Lower(step.State));
            w.WriteString("at"u8, Time(step.At));
            w.WriteString("actor"u8, step.Actor);
            WriteNullable(w, "note"u8, step.Note);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteSummaryBody(Utf8JsonWriter w, AlertSummary a)
    {
        w.WriteString("id"u8, a.Id);
        w.WriteString("device"u8, a.Device);
        WriteNullable(w, "kind"u8, a.Kind);
        WriteNullable(w, "model"u8, a.Model);
        WriteNullable(w, "batch"u8, a.Batch);
        w.WriteString("code"u8, a.Code);
        w.WriteString("severity"u8, Lower(a.Severity));
        w.WriteString("state"u8, Lower(a.State));
        w.WriteString("raised_at"u8, Time(a.RaisedAt));
        w.WriteString("updated_at"u8, Time(a.UpdatedAt));
        w.WriteString("message"u8, a.Message);
    }

    /// <summary>The one timestamp format of every payload and export: ISO 8601, UTC, milliseconds.</summary>
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Writes one JSON value to a byte array with the payload options.</summary>
    public static byte[] ToBytes(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static string Lower(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Info => "info",
        AlertSeverity.Warning => "warning",
        _ => "critical",
    };

    public static string Lower(AlertState state) => state switch
    {
        AlertState.Raised => "raised",
        AlertState.Acknowledged => "acknowledged",
        AlertState.Escalated => "escalated",
        _ => "resolved",
    };

    private static void WriteNullable(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    /// <summary>
    /// Payloads are JSON read by programs, never pasted into HTML, so characters such as '+' and non-ASCII
    /// text are written as themselves rather than as \uXXXX escapes (quotes and control characters still are).
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
