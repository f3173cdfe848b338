namespace Telemetry.Grains.Alerts;

/// <summary>
/// Every alert's current state, for listing, filtering and finding an alert's device by its id. Device grains
/// report each transition here after they have stored it. One index for the silo (key 0).
/// </summary>
[Alias("telemetry.alert-index")]
public interface IAlertIndexGrain : IGrainWithIntegerKey
{
    /// <summary>Takes an alert's summary, unless it holds a newer one. Returns the id of the index's activation that
    /// holds it, for <see cref="FlushAsync"/>.</summary>
    [Alias("upsert")]
    Task<Guid> UpsertAsync(AlertSummary alert);

    /// <summary>Stores the index now if anything changed (it is otherwise written behind, up to a second late), and
    /// returns the id of this activation: what an earlier <see cref="UpsertAsync"/> gave to an activation with another
    /// id was lost with it (its silo died before it wrote) and must be given again.</summary>
    [Alias("flush")]
    Task<Guid> FlushAsync();

    [Alias("query")]
    Task<AlertPage> QueryAsync(AlertFilter filter, int offset, int limit);

    [Alias("device-of")]
    Task<string?> DeviceOfAsync(string alertId);

    /// <summary>Alerts waiting for their first response, and the next deadline. Also wakes the grain (and its
    /// SLA timer) at start-up.</summary>
    [Alias("sla")]
    Task<SlaStatus> GetSlaStatusAsync();
}

[GenerateSerializer, Immutable, Alias("telemetry.sla-status")]
public sealed record SlaStatus([property: Id(0)] int AwaitingResponse, [property: Id(1)] DateTimeOffset? NextDeadline);
