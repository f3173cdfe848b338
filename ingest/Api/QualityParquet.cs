using Parquet;
using Parquet.Schema;
using Telemetry.Grains.Quality;

namespace Telemetry.Ingest.Api;

/// <summary>
/// The defect-rate rows as Parquet (Parquet.Net), with typed columns: counts as 64-bit integers, measures as
/// doubles, the first failure as a UTC timestamp in milliseconds (null when none), names as strings.
/// </summary>
internal static class QualityParquet
{
    private static readonly DataField<string> Model = new("model");
    private static readonly DataField<string> Batch = new("batch");
    private static readonly DataField<string> FailureMode = new("failure_mode");
    private static readonly DataField<long> Devices = new("devices");
    private static readonly DataField<double> DeviceDays = new("device_days");
    private static readonly DataField<double> DeviceKm = new("device_km");
    private static readonly DataField<long> Failures = new("failures");
    private static readonly DataField<double> Rate = new("rate");
    private static readonly DataField<double> CiLow = new("ci_low");
    private static readonly DataField<double> CiHigh = new("ci_high");
    private static readonly DataField<double> Baseline = new("baseline");
    private static readonly DataField<double> PValue = new("p_value");
    private static readonly DataField<string> Status = new("status");
    private static readonly DateTimeDataField FirstFailureAt = new("first_failure_at", DateTimeFormat.Timestamp, isAdjustedToUTC: true, unit: DateTimeTimeUnit.Millis, isNullable: true);

    public static async Task<byte[]> WriteAsync(IReadOnlyList<DefectRateRow> rows, CancellationToken cancellationToken)
    {
        var schema = new ParquetSchema(Model, Batch, FailureMode, Devices, DeviceDays, DeviceKm, Failures, Rate, CiLow, CiHigh, Baseline, PValue, Status, FirstFailureAt);
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: cancellationToken))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(Model, [.. rows.Select(r => r.Model)]);
            await group.WriteAsync(Batch, [.. rows.Select(r => r.Batch)]);
            await group.WriteAsync(FailureMode, [.. rows.Select(r => r.FailureMode)]);
            await group.WriteAsync<long>(Devices, rows.Select(r => r.Devices).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(DeviceDays, rows.Select(r => r.DeviceDays).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(DeviceKm, rows.Select(r => r.DeviceKm).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<long>(Failures, rows.Select(r => r.Failures).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(Rate, rows.Select(r => r.Rate).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(CiLow, rows.Select(r => r.CiLow).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(CiHigh, rows.Select(r => r.CiHigh).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(Baseline, rows.Select(r => r.Baseline).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync<double>(PValue, rows.Select(r => r.PValue).ToArray(), cancellationToken: cancellationToken);
            await group.WriteAsync(Status, [.. rows.Select(r => r.Status)]);
            await group.WriteAsync<DateTime>(FirstFailureAt, rows.Select(r => r.FirstFailureAt?.UtcDateTime).ToArray(), cancellationToken: cancellationToken);
        }

        return stream.ToArray();
    }
}
