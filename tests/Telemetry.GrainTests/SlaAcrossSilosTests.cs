using Orleans.Runtime;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Xunit;

namespace Telemetry.GrainTests;

/// <summary>
/// First-response deadlines in a cluster: the alert index's timer dies with its silo, its reminder does not. Time is the
/// cluster's fake clock; a critical alert's SLA is 2 hours.
/// </summary>
public sealed class SlaAcrossSilosTests
{
    private static async Task<OpenAlert> RaiseCriticalAsync(GrainCluster cluster, string device)
    {
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>(device);
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        var alert = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);
        Assert.Equal(AlertSeverity.Critical, alert.Severity);
        return alert;
    }

    private static bool WakeHeld(GrainCluster cluster) =>
        cluster.Reminders!.Rows.Any(r => r.ReminderName == AlertIndexGrain.WakeReminder);

    [Fact]
    public async Task SiloHoldingTheIndexStops_TheDeadlineStillEscalates_OnTheOtherSilo()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: true);
        var alert = await RaiseCriticalAsync(cluster, "shoe-sla");
        await cluster.UntilAsync(() => WakeHeld(cluster), "the index's wake reminder while a deadline is pending");
        var index = cluster.Grains.GetGrain<IAlertIndexGrain>(0);
        var indexSilo = cluster.SiloOf(index.GetGrainId());

        // The index's timer goes with its silo; nothing calls the index after this, so only its reminder can bring it back.
        await cluster.Cluster.StopSiloAsync(indexSilo);
        Assert.False(cluster.Alerts.Has("shoe-sla", AlertCodes.ShoeReplaceNow, AlertState.Escalated));
        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-sla", AlertCodes.ShoeReplaceNow, AlertState.Escalated),
            "the escalation after the index's silo stopped", step: TimeSpan.FromMinutes(1));

        Assert.Single(cluster.Alerts.Events, e => e.Id == alert.Id && e.State == AlertState.Escalated);
        Assert.True(cluster.Clock.GetUtcNow() >= alert.RaisedAt + TimeSpan.FromHours(2), $"escalated at {cluster.Clock.GetUtcNow():O} on the grains' clock, before the deadline of an alert raised at {alert.RaisedAt:O}");
        Assert.NotEqual(indexSilo.SiloAddress, cluster.SiloOf(index.GetGrainId()).SiloAddress);
        // Nothing else pending: the reminder is given back.
        await cluster.UntilAsync(() => !WakeHeld(cluster), "the wake reminder removed once no deadline is pending");
    }

    [Fact]
    public async Task WakeReminder_IsHeldOnlyWhileADeadlineIsPending()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: true);
        Assert.False(WakeHeld(cluster));
        var alert = await RaiseCriticalAsync(cluster, "shoe-acked");
        await cluster.UntilAsync(() => WakeHeld(cluster), "the wake reminder while a deadline is pending");

        var change = await cluster.Grains.GetGrain<IDeviceGrain>("shoe-acked").ChangeAlertAsync(alert.Id, AlertState.Acknowledged, "agent-3", null);

        Assert.Equal(AlertChangeOutcome.Changed, change.Outcome);
        await cluster.UntilAsync(() => !WakeHeld(cluster), "the wake reminder removed after the first response");
    }

    [Fact]
    public async Task WithoutAReminderStore_TheTimerAloneEscalates()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: false);
        var alert = await RaiseCriticalAsync(cluster, "shoe-timer");

        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-timer", AlertCodes.ShoeReplaceNow, AlertState.Escalated),
            "the escalation by the index's timer", step: TimeSpan.FromMinutes(1));

        Assert.Single(cluster.Alerts.Events, e => e.Id == alert.Id && e.State == AlertState.Escalated);
    }
}
