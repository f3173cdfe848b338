using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Xunit;

namespace Telemetry.GrainTests;

/// <summary>
/// The alert index's SLA rounds and the alert fan-out against the orders in which a cluster can deliver things: a lane
/// held up by a broker, a twin that moves while its events wait, an index woken by its reminder, a reminder store
/// that is down. Each test failed before its fix (an independent review wrote them against 8394888).
/// </summary>
public sealed class IndexAndFanOutTests
{
    private static int LaneOf(string device) => (int)((uint)StringComparer.Ordinal.GetHashCode(device) % AlertFanOut.LaneCount);

    /// <summary>
    /// The index escalates an alert; the device stores the Escalated event and hands it to the fan-out, so when the
    /// device's call returns the index still holds the alert as Raised with its deadline past. Arm() re-arms the timer
    /// at 0, the next round asks the device again (Unchanged), and again, until the fan-out's upsert lands. With the
    /// alert's lane held up (a sink that hangs, or another device's event ahead of it), that is for ever.
    /// </summary>
    [Fact]
    public async Task Escalation_WhileTheLaneIsHeld_DoesNotSpinOnTheDeviceGrain()
    {
        var changeCalls = 0;
        await using var cluster = await GrainCluster.StartAsync(configure: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod?.Name == nameof(IDeviceGrain.ChangeAlertAsync))
            {
                Interlocked.Increment(ref changeCalls);
            }

            await call.Invoke();
        }));
        cluster.Alerts.Hold();
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-spin");
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        // The Raised summary reached the index (the lane upserts before it publishes); the publication hangs.
        await cluster.UntilAsync(() => Volatile.Read(ref cluster.Alerts.Held) > 0, "the raised event at the hung sink");

        cluster.Clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(1));
        await cluster.UntilAsync(() => Volatile.Read(ref changeCalls) > 0, "the escalation");
        await Task.Delay(TimeSpan.FromSeconds(2));

        // One escalation, perhaps one more ask after a retry; not hundreds in two seconds.
        Assert.True(Volatile.Read(ref changeCalls) <= 3, $"the index asked the device {changeCalls} times in 2 s to escalate one alert");
    }

    /// <summary>
    /// The index's silo went away (here: the index and the twin are deactivated), and the wake reminder brings the index
    /// back after the deadline passed. ReceiveReminder escalates in a non-interleaved turn; the twin it calls must
    /// activate, and its OnActivateAsync upserts its open alerts into the index, which is busy in ReceiveReminder:
    /// both wait until Orleans' response timeout, the escalation fails and is retried a minute (grain clock) later.
    /// </summary>
    [Fact]
    public async Task ReminderWakesIndexAfterDeadline_TwinNotActive_EscalatesWithoutDeadlock()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: true);
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-remind");
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => cluster.Reminders!.Rows.Any(r => r.ReminderName == AlertIndexGrain.WakeReminder), "the wake reminder");
        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-remind", AlertCodes.ShoeReplaceNow, AlertState.Raised), "the raised event");
        // Once the twin is told its event got through, nothing calls it until the escalation does.
        await cluster.UntilAsync(() => cluster.FanOutsIdle, "the twin told its raised event got through");

        await cluster.DeactivateAsync(shoe.GetGrainId());
        await cluster.DeactivateAsync(cluster.Grains.GetGrain<IAlertIndexGrain>(0).GetGrainId());

        // Past the 2 h deadline in one step: only the reminder can wake the index now.
        cluster.Clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(2));
        var started = DateTime.UtcNow;
        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-remind", AlertCodes.ShoeReplaceNow, AlertState.Escalated), "the escalation after the reminder woke the index");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), $"escalated only after {(DateTime.UtcNow - started).TotalSeconds:F1} s");
    }

    [Fact]
    public async Task Control_ReminderWakesIndexAfterDeadline_TwinActive()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: true);
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-remind");
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => cluster.Reminders!.Rows.Any(r => r.ReminderName == AlertIndexGrain.WakeReminder), "the wake reminder");
        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-remind", AlertCodes.ShoeReplaceNow, AlertState.Raised), "the raised event");
        await cluster.UntilAsync(() => cluster.FanOutsIdle, "the twin told its raised event got through");
        await cluster.DeactivateAsync(cluster.Grains.GetGrain<IAlertIndexGrain>(0).GetGrainId());
        cluster.Clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(2));
        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-remind", AlertCodes.ShoeReplaceNow, AlertState.Escalated), "the escalation after the reminder woke the index");
    }

    /// <summary>
    /// A twin's events wait in silo A's lane behind another device's event; the twin is shed and comes back on silo B,
    /// which hands the same stored events to its own fan-out and delivers them, then a newer event (acknowledged).
    /// When silo A's lane moves again it delivers the older event after the newer one: the sink sees Raised after
    /// Acknowledged and the index is left with the alert Raised (its deadline pending again) while the twin has it
    /// acknowledged.
    /// </summary>
    [Fact]
    public async Task TwinShedAndReactivatedOnTheOtherSilo_OldLaneDoesNotDeliverAnOlderEventAfterANewerOne()
    {
        await using var cluster = await GrainCluster.StartAsync();
        var blocker = cluster.Grains.GetGrain<IDeviceGrain>("blk");
        await blocker.GetSnapshotAsync();
        var siloA = cluster.SiloOf(blocker.GetGrainId());

        string? device = null;
        for (var i = 0; i < 400 && device is null; i++)
        {
            var name = $"dev-{i}";
            if (LaneOf(name) != LaneOf("blk"))
            {
                continue;
            }

            var candidate = cluster.Grains.GetGrain<IDeviceGrain>(name);
            await candidate.GetSnapshotAsync();
            if (cluster.SiloOf(candidate.GetGrainId()).SiloAddress == siloA.SiloAddress)
            {
                device = name;
            }
        }

        Assert.NotNull(device);
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>(device);

        cluster.Alerts.HoldOnly = e => e.Device == "blk";
        cluster.Alerts.Hold();
        await blocker.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => Volatile.Read(ref cluster.Alerts.Held) > 0, "blk's event at the hung sink");
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        var alert = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);

        // The twin moves to the other silo (Orleans' migration here; shedding by Twins:MaxResidentTwins and a
        // reactivation placed on the other instance do the same): its new activation hands the stored event over again.
        var siloB = cluster.Cluster.Silos.First(s => s.SiloAddress != siloA.SiloAddress);
        Assert.True(cluster.Cluster.TryGetGrainContext(shoe.GetGrainId(), out var context));
        context.Migrate(new Dictionary<string, object> { [Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey] = siloB.SiloAddress });
        await cluster.UntilAsync(async () =>
        {
            await shoe.GetSnapshotAsync();
            return cluster.SiloOf(shoe.GetGrainId()).SiloAddress == siloB.SiloAddress;
        }, "the twin on the other silo");

        await cluster.UntilAsync(() => cluster.Alerts.Has(device, AlertCodes.ShoeReplaceNow, AlertState.Raised), "the raised event via silo B");
        Assert.Equal(AlertChangeOutcome.Changed, (await shoe.ChangeAlertAsync(alert.Id, AlertState.Acknowledged, "agent-1", null)).Outcome);
        await cluster.UntilAsync(() => cluster.Alerts.Has(device, AlertCodes.ShoeReplaceNow, AlertState.Acknowledged), "the acknowledgement via silo B");

        cluster.Alerts.Release();
        await cluster.UntilAsync(() => cluster.Alerts.Has("blk", AlertCodes.ShoeReplaceNow, AlertState.Raised), "blk's event once released");
        await Task.Delay(500);

        var indexed = Assert.Single((await cluster.Grains.GetGrain<IAlertIndexGrain>(0).QueryAsync(new AlertFilter { Device = device }, 0, 10)).Items);
        Assert.Equal(AlertState.Acknowledged, indexed.State);
        var states = cluster.Alerts.Events.Where(e => e.Device == device).Select(e => $"{e.EventId}:{e.State}").ToList();
        Assert.True(cluster.Alerts.Events.Last(e => e.Device == device).State == AlertState.Acknowledged, $"the sink saw, in order: {string.Join(", ", states)}");
    }

    /// <summary>The index keeps the newest state of an alert whatever order its summaries arrive in.</summary>
    [Fact]
    public async Task Index_IgnoresASummaryOlderThanTheOneItHolds()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: false);
        var index = cluster.Grains.GetGrain<IAlertIndexGrain>(0);
        var raisedAt = cluster.Clock.GetUtcNow();
        var raised = new AlertSummary
        {
            Id = "01TESTALERT", Device = "shoe-order", Code = AlertCodes.ShoeReplaceNow, Severity = AlertSeverity.Critical,
            State = AlertState.Raised, RaisedAt = raisedAt, UpdatedAt = raisedAt, Message = "replace",
        };
        var acknowledged = raised with { State = AlertState.Acknowledged, UpdatedAt = raisedAt.AddMinutes(5) };

        await index.UpsertAsync(acknowledged);
        await index.UpsertAsync(raised);
        // Same time, earlier state: an escalation and an acknowledgement made in the same instant.
        await index.UpsertAsync(acknowledged with { State = AlertState.Escalated });

        var held = Assert.Single((await index.QueryAsync(new AlertFilter { Device = "shoe-order" }, 0, 10)).Items);
        Assert.Equal(AlertState.Acknowledged, held.State);
        Assert.Equal(0, (await index.GetSlaStatusAsync()).AwaitingResponse);

        await index.UpsertAsync(acknowledged with { State = AlertState.Resolved, UpdatedAt = raisedAt.AddMinutes(9) });
        Assert.Equal(AlertState.Resolved, Assert.Single((await index.QueryAsync(new AlertFilter { Device = "shoe-order" }, 0, 10)).Items).State);
    }

    /// <summary>
    /// The reminder store is down when the first deadline appears. The index registers its wake reminder on a timer of
    /// its own, not in the upsert's turn, and tries again until the store answers: no later upsert is needed.
    /// </summary>
    [Fact]
    public async Task WakeReminder_StoreDownWhenTheDeadlineAppears_IsRegisteredOnceItIsBack()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: true);
        var table = cluster.Reminders!;
        Interlocked.Exchange(ref table.FailWrites, int.MaxValue);
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-store-down");
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => Volatile.Read(ref table.FailedWrites) > 0, "a refused reminder write");
        Assert.DoesNotContain(table.Rows, r => r.ReminderName == AlertIndexGrain.WakeReminder);

        Interlocked.Exchange(ref table.FailWrites, 0);
        // Ten seconds of grain time a poll: the retry is due 10 s after the failure, far inside the 2 h deadline.
        await cluster.UntilAsync(() => table.Rows.Any(r => r.ReminderName == AlertIndexGrain.WakeReminder), "the wake reminder once the store is back",
            step: TimeSpan.FromSeconds(10));
        Assert.Equal(1, (await cluster.Grains.GetGrain<IAlertIndexGrain>(0).GetSlaStatusAsync()).AwaitingResponse);
    }

    /// <summary>
    /// The index is written behind. A twin drops an event from its outbox only once the index has stored the event's
    /// summary, so a silo that dies with the index takes no alert (and no deadline) with it: here the index's silo is
    /// killed, without writing anything, right after the twin on the other silo was told its event got through.
    /// </summary>
    [Fact]
    public async Task IndexSiloKilledRightAfterADeliveryIsConfirmed_TheAlertIsStillIndexed()
    {
        var confirms = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await using var cluster = await GrainCluster.StartAsync(reminders: false, configure: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            await call.Invoke();
            if (call.InterfaceMethod?.Name == nameof(IDeviceGrain.ConfirmDeliveredAsync))
            {
                confirms.AddOrUpdate(call.TargetId.Key.ToString()!, 1, (_, n) => n + 1);
            }
        }));
        var index = cluster.Grains.GetGrain<IAlertIndexGrain>(0);
        await index.GetSlaStatusAsync();
        var indexSilo = cluster.SiloOf(index.GetGrainId());
        var device = await DeviceAwayFromAsync(cluster, indexSilo, "shoe-kept");
        await cluster.Grains.GetGrain<IDeviceGrain>(device).IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => confirms.ContainsKey(device), "the twin told its raised event got through");

        await cluster.Cluster.KillSiloAsync(indexSilo);
        await AssertIndexedAsync(cluster, device, indexSilo);
    }

    /// <summary>
    /// The index took an event's summary, and its silo was killed before it wrote (the event was still being
    /// published): the fan-out finds, before it confirms, that the index activation now answering is another one,
    /// and gives it the summary again.
    /// </summary>
    [Fact]
    public async Task IndexSiloKilledBeforeItWroteADeliveredSummary_TheSummaryIsGivenAgain()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: false);
        var index = cluster.Grains.GetGrain<IAlertIndexGrain>(0);
        await index.GetSlaStatusAsync();
        var indexSilo = cluster.SiloOf(index.GetGrainId());
        var device = await DeviceAwayFromAsync(cluster, indexSilo, "shoe-resent");

        cluster.Alerts.Hold();
        await cluster.Grains.GetGrain<IDeviceGrain>(device).IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => Volatile.Read(ref cluster.Alerts.Held) > 0, "the raised event, indexed, at the hung sink");
        await cluster.Cluster.KillSiloAsync(indexSilo);
        cluster.Alerts.Release();

        await AssertIndexedAsync(cluster, device, indexSilo);
    }

    private static async Task<string> DeviceAwayFromAsync(GrainCluster cluster, InProcessSiloHandle silo, string prefix)
    {
        for (var i = 0; i < 100; i++)
        {
            var candidate = cluster.Grains.GetGrain<IDeviceGrain>($"{prefix}-{i}");
            await candidate.GetSnapshotAsync();
            if (cluster.SiloOf(candidate.GetGrainId()).SiloAddress != silo.SiloAddress)
            {
                return $"{prefix}-{i}";
            }
        }

        throw new InvalidOperationException("every candidate device landed on the index's silo");
    }

    private static async Task AssertIndexedAsync(GrainCluster cluster, string device, InProcessSiloHandle indexSilo)
    {
        var index = cluster.Grains.GetGrain<IAlertIndexGrain>(0);
        await cluster.UntilAsync(async () =>
        {
            try
            {
                return (await index.QueryAsync(new AlertFilter { Device = device }, 0, 10)).Total == 1;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, "the alert in the index after its silo was killed");
        Assert.NotEqual(indexSilo.SiloAddress, cluster.SiloOf(index.GetGrainId()).SiloAddress);
    }

    /// <summary>
    /// One device's events are refused (a topic the broker will not take, a value the store rejects): the other devices
    /// of its lane still get theirs, and its own go out, in order, once the refusal ends.
    /// </summary>
    [Fact]
    public async Task OneDeviceRefused_OthersInItsLaneAreDelivered_AndItsOwnOnceTheRefusalEnds()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: false);
        var refused = "shoe-refused";
        await cluster.Grains.GetGrain<IDeviceGrain>(refused).GetSnapshotAsync();
        var silo = cluster.SiloOf(cluster.Grains.GetGrain<IDeviceGrain>(refused).GetGrainId()).SiloAddress;
        string? other = null;
        for (var i = 0; i < 400 && other is null; i++)
        {
            // The same lane of the same silo's fan-out.
            var candidate = $"shoe-lane-{i}";
            if (LaneOf(candidate) == LaneOf(refused))
            {
                await cluster.Grains.GetGrain<IDeviceGrain>(candidate).GetSnapshotAsync();
                other = cluster.SiloOf(cluster.Grains.GetGrain<IDeviceGrain>(candidate).GetGrainId()).SiloAddress == silo ? candidate : null;
            }
        }

        Assert.NotNull(other);
        cluster.Alerts.Refuse = e => e.Device == refused;
        await cluster.Grains.GetGrain<IDeviceGrain>(refused).IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => Volatile.Read(ref cluster.Alerts.Refused) > 0, "the refused device's event refused");
        await cluster.Grains.GetGrain<IDeviceGrain>(other).IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => cluster.Alerts.Has(other, AlertCodes.ShoeReplaceNow, AlertState.Raised), "the other device's event, past the refused one");
        Assert.False(cluster.Alerts.Has(refused, AlertCodes.ShoeReplaceNow, AlertState.Raised));

        cluster.Alerts.Refuse = null;
        await cluster.UntilAsync(() => cluster.Alerts.Has(refused, AlertCodes.ShoeReplaceNow, AlertState.Raised), "the refused device's event once the refusal ended");
        Assert.Single(cluster.Alerts.Events, e => e.Device == refused);
    }
}
