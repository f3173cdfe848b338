using Orleans.Runtime;

namespace Telemetry.Grains.Alerts;

/// <summary>The alert index's persisted state.</summary>
[GenerateSerializer, Alias("telemetry.alert-index-state")]
public sealed class AlertIndexState
{
    [Id(0)] public Dictionary<string, AlertSummary> Alerts { get; set; } = [];
}

/// <summary>
/// Keeps the latest summary of every alert, bounded to <see cref="MaxAlerts"/> (the oldest resolved go first).
/// Queries scan in memory: at this size that is microseconds, and it keeps filtering exact.
/// </summary>
[GrainType("alert-index")]
internal sealed class AlertIndexGrain(
    [PersistentState("alert-index", Devices.DeviceGrain.StorageName)] IPersistentState<AlertIndexState> index) : Grain, IAlertIndexGrain
{
    public const int MaxAlerts = 100_000;

    public async Task UpsertAsync(AlertSummary alert)
    {
        index.State.Alerts[alert.Id] = alert;
        if (index.State.Alerts.Count > MaxAlerts)
        {
            foreach (var old in index.State.Alerts.Values.Where(a => a.State == AlertState.Resolved).OrderBy(a => a.UpdatedAt).Take(index.State.Alerts.Count - MaxAlerts).ToList())
            {
                index.State.Alerts.Remove(old.Id);
            }
        }

        await index.WriteStateAsync();
    }

    public Task<AlertPage> QueryAsync(AlertFilter filter, int offset, int limit)
    {
        var matches = index.State.Alerts.Values.Where(filter.Matches).ToList();
        var page = matches.OrderByDescending(a => a.RaisedAt).ThenByDescending(a => a.Id, StringComparer.Ordinal).Skip(offset).Take(limit).ToArray();
        return Task.FromResult(new AlertPage(page, matches.Count));
    }

    public Task<string?> DeviceOfAsync(string alertId) =>
        Task.FromResult(index.State.Alerts.TryGetValue(alertId, out var alert) ? alert.Device : null);
}
