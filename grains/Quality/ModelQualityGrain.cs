using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Telemetry.Models.Quality;

namespace Telemetry.Grains.Quality;

[GenerateSerializer, Alias("telemetry.model-quality-state")]
public sealed class ModelQualityState
{
    /// <summary>Each batch's latest counts, as its grain last reported them.</summary>
    [Id(0)] public Dictionary<string, BatchExposure> Batches { get; set; } = [];

    /// <summary>Batch → failure mode → the status last published.</summary>
    [Id(1)] public Dictionary<string, Dictionary<string, string>> Status { get; set; } = [];

    /// <summary>Status changes stored with the new statuses and not yet delivered to the sink, oldest first.</summary>
    [Id(2)] public List<PendingQualityRows> Pending { get; set; } = [];
}

/// <summary>One batch's rows whose publication is owed (see ModelQualityGrain); <paramref name="Republish"/> when they
/// are the batch's current status sent again for the broker's retained store, not a change.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.pending-quality-rows")]
public sealed record PendingQualityRows([property: Id(0)] DefectRateRow[] Rows, [property: Id(1)] bool Republish = false);

/// <summary>
/// A model's batches side by side. Each batch is assessed per failure mode against the pooled rate of the
/// model's other batches; when any of a batch's statuses changes, its rows are published and the new statuses
/// saved together with the rows to publish (a pending list), which are delivered after the write and removed once
/// the sink has them: a failed publication or a crash never loses a status change, it is retried (capped backoff,
/// and on the next activation) until delivered, at least once.
/// </summary>
[GrainType("model-quality")]
internal sealed partial class ModelQualityGrain(
    [PersistentState("model-quality", Devices.DeviceGrain.StorageName)] IPersistentState<ModelQualityState> quality,
    IQualitySink sink,
    ILogger<ModelQualityGrain> logger) : Grain, IModelQualityGrain
{
    private IGrainTimer? _retryTimer;
    private int _failedDeliveries;

    /// <summary>The failure modes each kind is assessed for even before any failure is seen.</summary>
    private static readonly Dictionary<string, string[]> ModesByKind = new()
    {
        ["shoe"] = ["delamination", "premature_collapse"],
        ["band"] = ["water_ingress", "battery_fading_fast"],
    };

    private string Model => this.GetPrimaryKeyString();

    public async Task UpdateAsync(BatchExposure counts)
    {
        if (quality.State.Batches.Count == 0)
        {
            await GrainFactory.GetGrain<IQualityCatalogGrain>(0).AddModelAsync(Model);
        }

        quality.State.Batches[counts.Batch] = counts;
        var published = new List<DefectRateRow[]>();
        foreach (var batch in quality.State.Batches.Keys)
        {
            var rows = Rows(batch, quality.State.Batches).ToArray();
            var status = quality.State.Status.TryGetValue(batch, out var known) ? known : quality.State.Status[batch] = [];
            var changed = false;
            foreach (var row in rows)
            {
                if (status.GetValueOrDefault(row.FailureMode, "normal") != row.Status)
                {
                    status[row.FailureMode] = row.Status;
                    changed = true;
                }
            }

            if (changed)
            {
                published.Add(rows);
            }
        }

        if (published.Count > 0 && quality.State.Pending.Count == 0)
        {
            // Listed before the write that stores the first pending rows, so a crash after it still finds them.
            await GrainFactory.GetGrain<Devices.IPendingOutboxGrain>(0).AddAsync(this.GetGrainId());
        }

        quality.State.Pending.AddRange(published.Select(rows => new PendingQualityRows(rows)));
        await quality.WriteStateAsync();
        await DeliverAsync();
    }

    public async Task<int> RepublishAsync()
    {
        // A batch has a retained message once any of its statuses changed; one whose change is still pending gets it then.
        var owed = quality.State.Pending.Where(p => p.Rows.Length > 0).Select(p => p.Rows[0].Batch).ToHashSet(StringComparer.Ordinal);
        var batches = quality.State.Status.Where(s => s.Value.Count > 0 && quality.State.Batches.ContainsKey(s.Key) && !owed.Contains(s.Key))
            .Select(s => s.Key).Order(StringComparer.Ordinal).ToList();
        if (batches.Count == 0)
        {
            return 0;
        }

        if (quality.State.Pending.Count == 0)
        {
            await GrainFactory.GetGrain<Devices.IPendingOutboxGrain>(0).AddAsync(this.GetGrainId());
        }

        quality.State.Pending.AddRange(batches.Select(b => new PendingQualityRows([.. Rows(b, quality.State.Batches)], Republish: true)));
        await quality.WriteStateAsync();
        // Delivered on the grain's timer, not in this call: the caller is the publisher's connection loop.
        ScheduleRetry(TimeSpan.Zero);
        return batches.Count;
    }

    public async Task<bool> DeliverPendingAsync()
    {
        await DeliverAsync(listed: true);
        return quality.State.Pending.Count == 0;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (quality.State.Pending.Count > 0)
        {
            ScheduleRetry(TimeSpan.Zero);
        }

        return Task.CompletedTask;
    }

    /// <summary>Publishes the pending rows in order; on the first failure keeps the rest and schedules a retry. The
    /// removal is written at once: status changes are rare, and a retained topic should not flap back on a restart.</summary>
    private async Task DeliverAsync(bool listed = false)
    {
        var pending = quality.State.Pending;
        if (pending.Count == 0 && !listed)
        {
            // The common case (no status changed): no call to the pending-outbox grain on this hot path.
            return;
        }

        try
        {
            if (pending.Count > 0)
            {
                while (pending.Count > 0)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    if (pending[0].Republish)
                    {
                        await sink.RepublishAsync(pending[0].Rows, timeout.Token);
                    }
                    else
                    {
                        await sink.PublishAsync(pending[0].Rows, timeout.Token);
                    }

                    pending.RemoveAt(0);
                }

                await quality.WriteStateAsync();
            }

            // Also when nothing was pending but the pending-outbox grain asked: it may list a grain that finished
            // delivering just before a crash.
            await GrainFactory.GetGrain<Devices.IPendingOutboxGrain>(0).RemoveAsync(this.GetGrainId());
        }
        catch (Exception e)
        {
            _failedDeliveries++;
            var delay = Devices.DeviceGrain.RetryDelay(_failedDeliveries);
            LogPublishFailed(logger, e, Model, pending.Count, delay);
            ScheduleRetry(delay);
            return;
        }

        _failedDeliveries = 0;
        _retryTimer?.Dispose();
        _retryTimer = null;
    }

    private void ScheduleRetry(TimeSpan delay)
    {
        _retryTimer?.Dispose();
        _retryTimer = this.RegisterGrainTimer(_ => DeliverAsync(listed: true), new GrainTimerCreationOptions(delay, Timeout.InfiniteTimeSpan));
    }

    public async Task<DefectRateRow[]> GetRatesAsync(QualityWindow window)
    {
        var batches = await Task.WhenAll(quality.State.Batches.Keys.Select(b => GrainFactory.Batch(Model, b).GetExposureAsync(window)));
        var byBatch = batches.ToDictionary(b => b.Batch, StringComparer.Ordinal);
        return [.. byBatch.Keys.SelectMany(b => Rows(b, byBatch))];
    }

    private IEnumerable<DefectRateRow> Rows(string batchId, Dictionary<string, BatchExposure> batches)
    {
        var batch = batches[batchId];
        var others = batches.Where(p => p.Key != batchId).Select(p => p.Value).ToList();
        var modes = ModesByKind.GetValueOrDefault(batch.Kind, []).Union(batch.Failures.Keys).Union(others.SelectMany(o => o.Failures.Keys)).Distinct();
        foreach (var mode in modes)
        {
            var failures = batch.Failures.GetValueOrDefault(mode);
            var assessment = DefectStatistics.Assess(
                batch.Devices, failures?.Count ?? 0,
                others.Sum(o => o.Devices), others.Sum(o => o.Failures.GetValueOrDefault(mode)?.Count ?? 0));
            yield return new DefectRateRow
            {
                Model = Model,
                Batch = batchId,
                FailureMode = mode,
                Devices = batch.Devices,
                DeviceDays = batch.DeviceDays,
                DeviceKm = batch.DeviceKm,
                Failures = failures?.Count ?? 0,
                Rate = Math.Round(assessment.Rate, 6),
                CiLow = Math.Round(assessment.CiLow, 6),
                CiHigh = Math.Round(assessment.CiHigh, 6),
                Baseline = Math.Round(assessment.Baseline, 6),
                PValue = assessment.PValue,
                Status = assessment.Status.ToString().ToLowerInvariant(),
                FirstFailureAt = failures?.FirstAt,
            };
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model {Model}: publishing quality status failed, {Pending} held; retrying in {Delay}")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string model, int pending, TimeSpan delay);
}

[GenerateSerializer, Alias("telemetry.quality-catalog-state")]
public sealed class QualityCatalogState
{
    [Id(0)] public SortedSet<string> Models { get; set; } = new(StringComparer.Ordinal);
}

[GrainType("quality-catalog")]
internal sealed class QualityCatalogGrain(
    [PersistentState("quality-catalog", Devices.DeviceGrain.StorageName)] IPersistentState<QualityCatalogState> catalog) : Grain, IQualityCatalogGrain
{
    public async Task AddModelAsync(string model)
    {
        if (catalog.State.Models.Add(model))
        {
            await catalog.WriteStateAsync();
        }
    }

    public Task<string[]> GetModelsAsync() => Task.FromResult(catalog.State.Models.ToArray());
}
