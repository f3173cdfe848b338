using Orleans.Hosting;
using Orleans.Runtime;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Xunit;

namespace Telemetry.GrainTests;

/// <summary>
/// The SLA timer after a failed escalation, and the fan-out when a twin loses its stored state or moves in the middle
/// of a handover (found by a review of the fan-out; each test failed before its fix).
/// </summary>
public sealed class EscalationRetryAndHandoverTests
{
    /// <summary>Polls for at most <paramref name="seconds"/> of real time; false when it never came.</summary>
    private static async Task<bool> WithinAsync(Func<Task<bool>> done, double seconds, Action? step = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await done())
            {
                return true;
            }

            step?.Invoke();
            await Task.Delay(50);
        }

        return await done();
    }

    private static AlertSummary Summary(string id, string device, AlertSeverity severity, DateTimeOffset raisedAt) => new()
    {
        Id = id, Device = device, Code = AlertCodes.ShoeReplaceNow, Severity = severity,
        State = AlertState.Raised, RaisedAt = raisedAt, UpdatedAt = raisedAt, Message = "review",
    };

    /// <summary>
    /// EscalateRoundAsync caught every exception but OperationCanceledException. A device call that ends that way (a
    /// cancelled storage call, a request cancelled by the runtime) leaves the round by throwing: _armedFor was set to null
    /// and Arm is never called, so the one-shot SLA timer is gone. Without a reminder store (the single-node default)
    /// nothing arms it again until some unrelated upsert arrives: the deadline is never acted on.
    /// </summary>
    [Fact]
    public async Task EscalationCallCancelledOnce_TheSlaTimerStillRetries()
    {
        var changeCalls = 0;
        await using var cluster = await GrainCluster.StartAsync(reminders: false, configure: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod?.Name == nameof(IDeviceGrain.ChangeAlertAsync) && Interlocked.Increment(ref changeCalls) == 1)
            {
                throw new OperationCanceledException("a storage call was cancelled (test)");
            }

            await call.Invoke();
        }));
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-cancelled");
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-cancelled", AlertCodes.ShoeReplaceNow, AlertState.Raised), "the raised event");

        cluster.Clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(1));
        await cluster.UntilAsync(() => Volatile.Read(ref changeCalls) > 0, "the first escalation attempt");

        // A minute of grain time per poll: the failed round's retry is due a minute later.
        var escalated = await WithinAsync(() => Task.FromResult(cluster.Alerts.Has("shoe-cancelled", AlertCodes.ShoeReplaceNow, AlertState.Escalated)),
            10, () => cluster.Clock.Advance(TimeSpan.FromMinutes(1)));
        Assert.True(escalated, $"never escalated after the first attempt was cancelled ({Volatile.Read(ref changeCalls)} attempts; the SLA timer died)");
    }

    /// <summary>
    /// A failed escalation is retried a minute later (Arm(retryAt)), but the next upsert of any other alert calls Arm()
    /// with the overdue deadline, which differs from the retry time, and sets the timer to fire at once. Every alert
    /// anywhere in the fleet thus triggers another escalation round against the failing device: the back-off is void.
    /// </summary>
    [Fact]
    public async Task EscalationFails_OtherAlertsUpserted_RetryStillWaitsAMinute()
    {
        var changeCalls = 0;
        await using var cluster = await GrainCluster.StartAsync(reminders: false, configure: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod?.Name == nameof(IDeviceGrain.ChangeAlertAsync))
            {
                Interlocked.Increment(ref changeCalls);
                throw new InvalidOperationException("the twin's store is down (test)");
            }

            await call.Invoke();
        }));
        var index = cluster.Grains.GetGrain<IAlertIndexGrain>(0);
        var now = cluster.Clock.GetUtcNow();
        await index.UpsertAsync(Summary("01OVERDUE", "shoe-broken", AlertSeverity.Critical, now - TimeSpan.FromHours(3)));
        await cluster.UntilAsync(() => Volatile.Read(ref changeCalls) > 0, "the first escalation attempt");
        var before = Volatile.Read(ref changeCalls);

        // No grain time passes: the retry is not due for a minute.
        for (var i = 0; i < 10; i++)
        {
            await index.UpsertAsync(Summary($"01OTHER{i}", $"shoe-other-{i}", AlertSeverity.Warning, now));
        }

        // Bounded wait for something that must not happen: another attempt against the failing device.
        var retried = await WithinAsync(() => Task.FromResult(Volatile.Read(ref changeCalls) > before), 2);
        Assert.False(retried, $"{Volatile.Read(ref changeCalls) - before} more escalation attempts within the retry minute, set off by unrelated upserts");
        Assert.Equal(11, (await index.QueryAsync(new AlertFilter(), 0, 20)).Total);
    }

    /// <summary>
    /// A lane remembers per device the highest event number it delivered and skips (and confirms) anything at or below it.
    /// Before outbox incarnations:
    /// Event numbers come from the twin's stored EventCount; when the twin's state is lost (a store flushed or evicted,
    /// which the index already allows for with NotFound), the twin numbers from 1 again, and the lane on the silo that
    /// delivered the old events skips the new ones, then confirms them: the twin drops them from its outbox. The alert
    /// reaches neither the sink nor the index, so its SLA deadline is lost as well.
    /// </summary>
    [Fact]
    public async Task TwinStateLost_NewEventsWithReusedNumbers_AreStillDelivered()
    {
        long confirmedUpTo = 0;
        await using var cluster = await GrainCluster.StartAsync(reminders: false, configure: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            await call.Invoke();
            if (call.InterfaceMethod?.Name == nameof(IDeviceGrain.ConfirmDeliveredAsync) && call.Request.GetArgument(1) is long upTo)
            {
                Interlocked.Exchange(ref confirmedUpTo, upTo);
            }
        }));
        const string device = "shoe-amnesia";
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>(device);
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        var siloA = cluster.SiloOf(shoe.GetGrainId()).SiloAddress;
        var first = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);
        await shoe.ChangeAlertAsync(first.Id, AlertState.Acknowledged, "agent", null);
        await shoe.ChangeAlertAsync(first.Id, AlertState.Resolved, "agent", null);
        await cluster.UntilAsync(() => cluster.Alerts.Has(device, AlertCodes.ShoeReplaceNow, AlertState.Resolved), "events 1 to 3 delivered");
        await cluster.UntilAsync(() => Interlocked.Read(ref confirmedUpTo) == 3, "events 1 to 3 confirmed");

        await cluster.DeactivateAsync(shoe.GetGrainId());
        foreach (var key in cluster.Storage.All.Keys.Where(k => k.Grain == shoe.GetGrainId()).ToList())
        {
            cluster.Storage.All.TryRemove(key, out _);
        }

        // The twin back on the silo whose lane delivered events 1 to 3 (an empty twin: activating it makes no event).
        await shoe.GetSnapshotAsync();
        if (cluster.SiloOf(shoe.GetGrainId()).SiloAddress != siloA)
        {
            Assert.True(cluster.Cluster.TryGetGrainContext(shoe.GetGrainId(), out var context));
            context.Migrate(new Dictionary<string, object> { [Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey] = siloA });
            await cluster.UntilAsync(async () =>
            {
                await shoe.GetSnapshotAsync();
                return cluster.SiloOf(shoe.GetGrainId()).SiloAddress == siloA;
            }, "the twin back on its first silo");
        }

        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        var again = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);
        Assert.NotEqual(first.Id, again.Id);

        var delivered = await WithinAsync(() => Task.FromResult(cluster.Alerts.Events.Any(e => e.Id == again.Id)), 5);
        var indexed = (await cluster.Grains.GetGrain<IAlertIndexGrain>(0).QueryAsync(new AlertFilter { Device = device }, 0, 10)).Items.Any(a => a.Id == again.Id);
        Assert.True(delivered && indexed, $"the new alert {again.Id}: at the sink {delivered}, in the index {indexed}");
    }

    /// <summary>
    /// A lane asked whether the handing activation is still current once per handover, not per event. A round that
    /// moves a wear alert up its ladder hands two events at once (the old level resolved, the new one raised). If the
    /// twin moves while the first is being published, the other silo delivers both and a newer acknowledgement, and then
    /// this lane still delivers the raised event: the sink sees Raised after Acknowledged, which the class doc says
    /// cannot happen beyond "one delivery" (and a handover at activation may carry a whole outbox).
    /// </summary>
    [Fact]
    public async Task TwinMovesDuringAMultiEventHandover_OldLaneStopsBeforeTheNextEvent()
    {
        await using var cluster = await GrainCluster.StartAsync(reminders: false);
        const string device = "shoe-ladder";
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>(device);
        uint seq = 1;
        await shoe.IngestAsync(Uplink.Run(seq, 1, Uplink.Shoe()));
        for (; !(await shoe.GetSnapshotAsync())!.OpenAlerts.Any(a => a.Code == AlertCodes.ShoeReplaceSoon); seq++)
        {
            Assert.True(seq < 200, "never reached replace-soon");
            await shoe.IngestAsync(Uplink.Run(seq + 1, 20));
        }

        await cluster.UntilAsync(() => cluster.Alerts.Has(device, AlertCodes.ShoeReplaceSoon, AlertState.Raised), "replace-soon raised at the sink");

        Assert.False(cluster.Alerts.Has(device, AlertCodes.ShoeReplaceNow, AlertState.Raised), "stepped past replace-soon in one round");
        var siloA = cluster.SiloOf(shoe.GetGrainId());
        var firstTry = 0;
        cluster.Alerts.HoldOnly = e => e.Device == device && e.State == AlertState.Resolved && Interlocked.Increment(ref firstTry) == 1;
        cluster.Alerts.Hold();
        // One round: replace-soon resolved and replace-now raised, handed over together.
        await shoe.IngestAsync(Uplink.Run(seq + 1, 800));
        await cluster.UntilAsync(() => Volatile.Read(ref cluster.Alerts.Held) > 0, "the resolution held at the sink on the first silo");

        var siloB = cluster.Cluster.Silos.First(s => s.SiloAddress != siloA.SiloAddress);
        Assert.True(cluster.Cluster.TryGetGrainContext(shoe.GetGrainId(), out var context));
        context.Migrate(new Dictionary<string, object> { [Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey] = siloB.SiloAddress });
        await cluster.UntilAsync(async () =>
        {
            await shoe.GetSnapshotAsync();
            return cluster.SiloOf(shoe.GetGrainId()).SiloAddress == siloB.SiloAddress;
        }, "the twin on the other silo");
        await cluster.UntilAsync(() => cluster.Alerts.Has(device, AlertCodes.ShoeReplaceNow, AlertState.Raised), "replace-now raised via the other silo");
        var now = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);
        Assert.Equal(AlertChangeOutcome.Changed, (await shoe.ChangeAlertAsync(now.Id, AlertState.Acknowledged, "agent-1", null)).Outcome);
        await cluster.UntilAsync(() => cluster.Alerts.Has(device, AlertCodes.ShoeReplaceNow, AlertState.Acknowledged), "the acknowledgement via the other silo");

        cluster.Alerts.Release();
        var raisedCopies = 0;
        // Bounded wait for something that must not happen: the first silo's lane sending replace-now raised again.
        await WithinAsync(() => Task.FromResult((raisedCopies = cluster.Alerts.Events.Count(e => e.Id == now.Id && e.State == AlertState.Raised)) > 1), 3);
        var states = cluster.Alerts.Events.Where(e => e.Device == device).Select(e => $"{e.EventId}:{e.State}").ToList();
        // The held resolution may still complete (the one overlapping delivery); replace-now raised must not follow.
        Assert.True(raisedCopies <= 1, $"replace-now raised reached the sink after its acknowledgement; the sink saw, in order: {string.Join(", ", states)}");
    }

    /// <summary>
    /// Telling a twin its events got through was tried four times and then left to a later confirmation for the same
    /// device, which an idle device never makes: its events stayed in its outbox until it next activated, and were
    /// delivered again then. Now the confirmation goes back for a later round and gets through once the twin answers.
    /// </summary>
    [Fact]
    public async Task ConfirmationRefusedFourTimes_IsTriedAgainInALaterRound()
    {
        var refused = 0;
        var confirmed = 0;
        await using var cluster = await GrainCluster.StartAsync(reminders: false, configure: silo => silo.AddIncomingGrainCallFilter(async call =>
        {
            if (call.InterfaceMethod?.Name == nameof(IDeviceGrain.ConfirmDeliveredAsync))
            {
                if (Interlocked.Increment(ref refused) <= 4)
                {
                    throw new InvalidOperationException("the twin's silo is overloaded (test)");
                }

                await call.Invoke();
                Interlocked.Increment(ref confirmed);
                return;
            }

            await call.Invoke();
        }));
        const string device = "shoe-unconfirmed";
        await cluster.Grains.GetGrain<IDeviceGrain>(device).IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.UntilAsync(() => cluster.Alerts.Has(device, AlertCodes.ShoeReplaceNow, AlertState.Raised), "the raised event delivered");

        // Grain time for the confirmation's backoff; no new event comes for the device.
        await cluster.UntilAsync(() => Volatile.Read(ref confirmed) > 0, "the confirmation after four refusals", step: TimeSpan.FromSeconds(1));
        Assert.Equal(1, cluster.Alerts.Events.Count(e => e.Device == device));
    }
}
