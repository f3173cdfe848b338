using System.Globalization;
using System.Text;
using System.Text.Json;
using Telemetry.Grains.Quality;

namespace Telemetry.Ingest.Api;

/// <summary>The defect-rate rows as JSON and CSV (same columns, same order).</summary>
internal static class QualityJson
{
    public static readonly string[] Columns =
        ["model", "batch", "failure_mode", "devices", "device_days", "device_km", "failures", "rate", "ci_low", "ci_high", "baseline", "p_value", "status", "first_failure_at"];

    public static void WriteRow(Utf8JsonWriter w, DefectRateRow r)
    {
        w.WriteStartObject();
        w.WriteString("model"u8, r.Model);
        w.WriteString("batch"u8, r.Batch);
        w.WriteString("failure_mode"u8, r.FailureMode);
        w.WriteNumber("devices"u8, r.Devices);
        w.WriteNumber("device_days"u8, r.DeviceDays);
        w.WriteNumber("device_km"u8, r.DeviceKm);
        w.WriteNumber("failures"u8, r.Failures);
        w.WriteNumber("rate"u8, r.Rate);
        w.WriteNumber("ci_low"u8, r.CiLow);
        w.WriteNumber("ci_high"u8, r.CiHigh);
        w.WriteNumber("baseline"u8, r.Baseline);
        w.WriteNumber("p_value"u8, r.PValue);
        w.WriteString("status"u8, r.Status);
        if (r.FirstFailureAt is { } at)
        {
            w.WriteString("first_failure_at"u8, Mqtt.ReplyJson.Time(at));
        }
        else
        {
            w.WriteNull("first_failure_at"u8);
        }

        w.WriteEndObject();
    }

    public static string Csv(IEnumerable<DefectRateRow> rows)
    {
        var csv = new StringBuilder(string.Join(',', Columns)).Append('\n');
        foreach (var r in rows)
        {
            csv.Append(CultureInfo.InvariantCulture,
                $"{r.Model},{r.Batch},{r.FailureMode},{r.Devices},{r.DeviceDays},{r.DeviceKm},{r.Failures},{r.Rate},{r.CiLow},{r.CiHigh},{r.Baseline},{r.PValue},{r.Status},")
                .Append(r.FirstFailureAt is { } at ? Mqtt.ReplyJson.Time(at) : string.Empty)
                .Append('\n');
        }

        return csv.ToString();
    }
}
