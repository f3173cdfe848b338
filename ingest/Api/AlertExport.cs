using System.Globalization;
using System.Text;
using Parquet;
using Parquet.Schema;
using Telemetry.Grains.Alerts;

namespace Telemetry.Ingest.Api;

/// <summary>
/// Alert history for analysts: one row per alert in its current state (CSV or Parquet). Parquet columns are
/// typed: times as UTC millisecond timestamps, names as strings.
/// </summary>
internal static class AlertExport
{
    public static readonly string[] Columns = ["id", "device", "kind", "model", "batch", "code", "severity", "state", "raised_at", "updated_at", "message"];

    private static readonly DataField<string> Id = new("id");
    private static readonly DataField<string> Device = new("device");
    private static readonly DataField<string> Kind = new("kind", true);
    private static readonly DataField<string> Model = new("model", true);
    private static readonly DataField<string> Batch = new("batch", true);
    private static readonly DataField<string> Code = new("code");
    private static readonly DataField<string> Severity = new("severity");
    private static readonly DataField<string> State = new("state");
    private static readonly DateTimeDataField RaisedAt = new("raised_at", DateTimeFormat.Timestamp, isAdjustedToUTC: true, unit: DateTimeTimeUnit.Millis);
    private static readonly DateTimeDataField UpdatedAt = new("updated_at", DateTimeFormat.Timestamp, isAdjustedToUTC: true, unit: DateTimeTimeUnit.Millis);
    private static readonly DataField<string> Message = new("message");

    public static string Csv(IEnumerable<AlertSummary> alerts)
    {
        var csv = new StringBuilder(string.Join(',', Columns)).Append('\n');
        foreach (var a in alerts)
        {
            csv.Append(CultureInfo.InvariantCulture,
                $"{a.Id},{a.Device},{a.Kind},{a.Model},{a.Batch},{a.Code},{Mqtt.ReplyJson.Lower(a.Severity)},{Mqtt.ReplyJson.Lower(a.State)},{Mqtt.ReplyJson.Time(a.RaisedAt)},{Mqtt.ReplyJson.Time(a.UpdatedAt)},")
                .Append('"').Append(a.Message.Replace("\"", "\"\"", StringComparison.Ordinal)).Append("\"\n");
        }

        return csv.ToString();
    }

    public static async Task<byte[]> ParquetAsync(IReadOnlyList<AlertSummary> alerts, CancellationToken cancellationToken)
    {
        var schema = new ParquetSchema(Id, Device, Kind, Model, Batch, Code, Severity, State, RaisedAt, UpdatedAt, Message);
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: cancellationToken))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(Id, [.. alerts.Select(a => a.Id)]);
            await group.WriteAsync(Device, [.. alerts.Select(a => a.Device)]);
            await group.WriteAsync(Kind, [.. alerts.Select(a => a.Kind!)]);
            await group.WriteAsync(Model, [.. alerts.Select(a => a.Model!)]);
            await group.WriteAsync(Batch, [.. alerts.Select(a => a.Batch!)]);
            await group.WriteAsync(Code, [.. alerts.Select(a => a.Code)]);
            await group.WriteAsync(Severity, [.. alerts.Select(a => Mqtt.ReplyJson.Lower(a.Severity))]);
            await group.WriteAsync(State, [.. alerts.Select(a => Mqtt.ReplyJson.Lower(a.State))]);
            await group.WriteAsync<DateTime>(RaisedAt, alerts.Select(a => a.RaisedAt.UtcDateTime).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<DateTime>(UpdatedAt, alerts.Select(a => a.UpdatedAt.UtcDateTime).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync(Message, [.. alerts.Select(a => a.Message)]);
        }

        return stream.ToArray();
    }
}
