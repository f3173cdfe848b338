using Orleans.Runtime;
using Telemetry.Models.Quality;

namespace Telemetry.Grains.Quality;

[GenerateSerializer, Alias("telemetry.device-exposure")]
public sealed class DeviceExposure
{
    [Id(0)] public long FirstMs { get; set; }

    [Id(1)] public long LastMs { get; set; }

    [Id(2)] public double Km { get; set; }
}

[GenerateSerializer, Alias("telemetry.batch-quality")]
public sealed class BatchQuality
{
    [Id(0)] public string Kind { get; set; } = string.Empty;

    [Id(1)] public Dictionary<string, DeviceExposure> Devices { get; set; } = [];

    /// <summary>Failure mode → device → when and how it was learned (one failure per device and mode).</summary>
    [Id(2)] public Dictionary<string, Dictionary<string, FailureReport>> Failures { get; set; } = [];

    [Id(3)] public Dictionary<string, string> Status { get; set; } = [];
}

[GenerateSerializer, Alias("telemetry.quality-state")]
public sealed class QualityState
{
    /// <summary>Key: <c>model/batch</c>.</summary>
    [Id(0)] public Dictionary<string, BatchQuality> Batches { get; set; } = [];
}

/// <summary>
/// Aggregates exposure and failures, and publishes a batch's rows whenever one of its statuses changes.
/// Exposure arrives once per device per pipeline round and is saved every <see cref="SaveEvery"/> reports
/// (failures are saved at once), so a crash can lose a little exposure, never a failure.
/// </summary>
[GrainType("quality")]
internal sealed class QualityGrain(
    [PersistentState("quality", Devices.DeviceGrain.StorageName)] IPersistentState<QualityState> quality,
    IQualitySink sink) : Grain, IQualityGrain
{
    private const int SaveEvery = 200;

    /// <summary>The failure modes each kind is assessed for even before any failure is seen.</summary>
    private static readonly Dictionary<string, string[]> ModesByKind = new()
    {
        ["shoe"] = ["delamination"],
        ["band"] = ["water_ingress", "battery_fading_fast"],
    };

    private int _unsaved;

    public async Task ReportExposureAsync(ExposureReport report)
    {
        var batch = Batch(report.Model, report.Batch, report.Kind);
        var isNew = !batch.Devices.TryGetValue(report.Device, out var exposure);
        exposure ??= batch.Devices[report.Device] = new DeviceExposure { FirstMs = report.FirstReadingMs, LastMs = report.LastReadingMs };
        exposure.FirstMs = Math.Min(exposure.FirstMs, report.FirstReadingMs);
        exposure.LastMs = Math.Max(exposure.LastMs, report.LastReadingMs);
        exposure.Km += report.DistanceKm;
        if (isNew)
        {
            await ReassessAsync(report.Model);
        }

        if (++_unsaved >= SaveEvery)
        {
            await quality.WriteStateAsync();
            _unsaved = 0;
        }
    }

    public async Task ReportFailureAsync(FailureReport report)
    {
        var key = Key(report.Model, report.Batch);
        if (!quality.State.Batches.TryGetValue(key, out var batch))
        {
            batch = Batch(report.Model, report.Batch, string.Empty);
        }

        if (!batch.Failures.TryGetValue(report.Mode, out var byDevice))
        {
            batch.Failures[report.Mode] = byDevice = [];
        }

        if (!byDevice.TryAdd(report.Device, report))
        {
            return;
        }

        await ReassessAsync(report.Model);
        await quality.WriteStateAsync();
        _unsaved = 0;
    }

    public Task<DefectRateRow[]> GetRatesAsync() =>
        Task.FromResult(quality.State.Batches.Keys.SelectMany(k => Rows(k)).OrderBy(r => r.Model, StringComparer.Ordinal)
            .ThenBy(r => r.Batch, StringComparer.Ordinal).ThenBy(r => r.FailureMode, StringComparer.Ordinal).ToArray());

    private async Task ReassessAsync(string model)
    {
        foreach (var key in quality.State.Batches.Keys.Where(k => k.StartsWith(model + "/", StringComparison.Ordinal)).ToList())
        {
            var rows = Rows(key).ToArray();
            var batch = quality.State.Batches[key];
            var changed = false;
            foreach (var row in rows)
            {
                if (batch.Status.GetValueOrDefault(row.FailureMode, "normal") != row.Status)
                {
                    batch.Status[row.FailureMode] = row.Status;
                    changed = true;
                }
            }

            if (changed)
            {
                await sink.PublishAsync(rows, CancellationToken.None);
            }
        }
    }

    private IEnumerable<DefectRateRow> Rows(string key)
    {
        var batch = quality.State.Batches[key];
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var (model, batchId) = (key[..slash], key[(slash + 1)..]);
        var others = quality.State.Batches.Where(p => p.Key != key && p.Key.StartsWith(model + "/", StringComparison.Ordinal)).Select(p => p.Value).ToList();
        var modes = ModesByKind.GetValueOrDefault(batch.Kind, []).Union(batch.Failures.Keys).Union(others.SelectMany(o => o.Failures.Keys)).Distinct();
        foreach (var mode in modes)
        {
            var failures = batch.Failures.GetValueOrDefault(mode);
            var assessment = DefectStatistics.Assess(
                batch.Devices.Count, failures?.Count ?? 0,
                others.Sum(o => (long)o.Devices.Count), others.Sum(o => (long)(o.Failures.GetValueOrDefault(mode)?.Count ?? 0)));
            yield return new DefectRateRow
            {
                Model = model,
                Batch = batchId,
                FailureMode = mode,
                Devices = batch.Devices.Count,
                DeviceDays = Math.Round(batch.Devices.Values.Sum(d => Math.Max(1, (d.LastMs - d.FirstMs) / 86_400_000.0)), 1),
                DeviceKm = Math.Round(batch.Devices.Values.Sum(d => d.Km), 1),
                Failures = failures?.Count ?? 0,
                Rate = Math.Round(assessment.Rate, 6),
                CiLow = Math.Round(assessment.CiLow, 6),
                CiHigh = Math.Round(assessment.CiHigh, 6),
                Baseline = Math.Round(assessment.Baseline, 6),
                PValue = assessment.PValue,
                Status = assessment.Status.ToString().ToLowerInvariant(),
                FirstFailureAt = failures is { Count: > 0 } ? failures.Values.Min(f => f.At) : null,
            };
        }
    }

    private BatchQuality Batch(string model, string batch, string kind)
    {
        var key = Key(model, batch);
        if (!quality.State.Batches.TryGetValue(key, out var aggregate))
        {
            quality.State.Batches[key] = aggregate = new BatchQuality();
        }

        if (aggregate.Kind.Length == 0)
        {
            aggregate.Kind = kind;
        }

        return aggregate;
    }

    private static string Key(string model, string batch) => $"{model}/{batch}";
}
