using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Xunit;

namespace Telemetry.GrainTests;

/// <summary>
/// The device grain in a two-silo cluster, as the service registers it: the alert ladder, a part replaced, and a twin
/// that moves to the other silo when its silo stops, read back whole from the store.
/// </summary>
public sealed class DeviceGrainClusterTests
{
    [Fact]
    public async Task Cushioning_ClimbsTheLadder_WarningThenCritical_OneOpenAlertAtATime()
    {
        await using var cluster = await GrainCluster.StartAsync();
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-ladder");

        // 100 km: cushioning about 75%, no alert. 200 km in all: below 70%, replace soon. 800 km: below 60%, replace now.
        await shoe.IngestAsync(Uplink.Run(1, 100, Uplink.Shoe()));
        Assert.Empty((await shoe.GetSnapshotAsync())!.OpenAlerts);

        await shoe.IngestAsync(Uplink.Run(2, 100));
        var warning = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);
        Assert.Equal(AlertCodes.ShoeReplaceSoon, warning.Code);

        await shoe.IngestAsync(Uplink.Run(3, 600));
        var critical = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);
        Assert.Equal(AlertCodes.ShoeReplaceNow, critical.Code);
        // Delivered after the round, outside the grain's turn: the fan-out confirms, and the twin's outbox empties.
        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-ladder", AlertCodes.ShoeReplaceNow, AlertState.Raised), "the critical alert delivered");
        Assert.True(cluster.Alerts.Has("shoe-ladder", AlertCodes.ShoeReplaceSoon, AlertState.Raised));
        Assert.True(cluster.Alerts.Events.Where(e => e.Device == "shoe-ladder").Select(e => e.EventId).Distinct().Count() ==
            cluster.Alerts.Events.Count(e => e.Device == "shoe-ladder"), "an event delivered twice");

        // The index, on whichever silo, lists the same one alert open.
        var page = await cluster.Grains.GetGrain<IAlertIndexGrain>(0).QueryAsync(new AlertFilter { Device = "shoe-ladder" }, 0, 10);
        var open = Assert.Single(page.Items, a => a.State != AlertState.Resolved);
        Assert.Equal(critical.Id, open.Id);
    }

    [Fact]
    public async Task ShoeReplaced_ResolvesItsAlerts_AndWearStartsFromNew()
    {
        await using var cluster = await GrainCluster.StartAsync();
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-replaced");
        await shoe.IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        var alert = Assert.Single((await shoe.GetSnapshotAsync())!.OpenAlerts);

        var resolved = await shoe.PartReplacedAsync("shoe", "agent-7", "new pair under warranty");

        Assert.Equal([alert.Id], resolved!);
        var twin = (await shoe.GetSnapshotAsync())!;
        Assert.Empty(twin.OpenAlerts);
        Assert.True(twin.Wear?.CushioningPct is null or >= 99, $"cushioning after replacement: {twin.Wear?.CushioningPct}");
        await cluster.UntilAsync(() => cluster.Alerts.Events.Any(e => e.Id == alert.Id && e.State == AlertState.Resolved && e.Actor == "agent-7"),
            "the resolution by agent-7 delivered");

        // The device keeps running on the new pair: 100 km is no alert.
        await shoe.IngestAsync(Uplink.Run(2, 100));
        Assert.Empty((await shoe.GetSnapshotAsync())!.OpenAlerts);
    }

    /// <summary>With <c>Alerts:DefaultLocale</c> set to Chinese, a shoe whose birth names no locale hears in Chinese and one
    /// born with <c>en</c> in English: the setting reaches every silo's twins, and the birth wins over it.</summary>
    [Fact]
    public async Task TheConfiguredDefaultLocale_ReachesTheDeliveredMessage_AndTheBirthsLocaleWinsOverIt()
    {
        await using var cluster = await GrainCluster.StartAsync(configure: silo =>
            silo.Services.Configure<AlertsOptions>(o => o.DefaultLocale = "zh-cn"));

        await cluster.Grains.GetGrain<IDeviceGrain>("shoe-default-zh").IngestAsync(Uplink.Run(1, 800, Uplink.Shoe()));
        await cluster.Grains.GetGrain<IDeviceGrain>("shoe-born-en").IngestAsync(Uplink.Run(1, 800, Uplink.Shoe() with { Locale = AlertLocales.En }));

        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-default-zh", AlertCodes.ShoeReplaceNow, AlertState.Raised)
            && cluster.Alerts.Has("shoe-born-en", AlertCodes.ShoeReplaceNow, AlertState.Raised), "both critical alerts delivered");
        var chinese = cluster.Alerts.Events.First(e => e.Device == "shoe-default-zh" && e.State == AlertState.Raised).Message;
        var english = cluster.Alerts.Events.First(e => e.Device == "shoe-born-en" && e.State == AlertState.Raised).Message;
        Assert.StartsWith("缓震性能约为新鞋的", chinese, StringComparison.Ordinal);
        Assert.StartsWith("Cushioning is at about ", english, StringComparison.Ordinal);
        Assert.Equal(AlertLocales.ZhCn, Assert.Single((await cluster.Grains.GetGrain<IDeviceGrain>("shoe-default-zh").GetSnapshotAsync())!.OpenAlerts).Locale);
    }

    [Fact]
    public async Task SiloStops_TwinMovesToTheOtherSilo_Intact()
    {
        await using var cluster = await GrainCluster.StartAsync();
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-moving");
        await shoe.IngestAsync(Uplink.Run(1, 150, Uplink.Shoe()));
        await shoe.IngestAsync(Uplink.Run(2, 100));
        var before = (await shoe.GetSnapshotAsync())!;
        var from = cluster.SiloOf(shoe.GetGrainId());

        await cluster.Cluster.StopSiloAsync(from);

        var after = (await shoe.GetSnapshotAsync())!;
        Assert.NotEqual(from.SiloAddress, cluster.SiloOf(shoe.GetGrainId()).SiloAddress);
        Assert.Equal(before.Totals, after.Totals);
        Assert.Equal(before.Wear?.CushioningPct, after.Wear?.CushioningPct);
        Assert.Equal(before.Birth, after.Birth);
        Assert.Equal(before.OpenAlerts.Select(a => (a.Id, a.Code, a.State)), after.OpenAlerts.Select(a => (a.Id, a.Code, a.State)));
        Assert.Equal(before.Acked, after.Acked);

        // Its message progress came along: the same message again is a duplicate, not 100 km more.
        var again = await shoe.IngestAsync(Uplink.Run(2, 100));
        Assert.Equal(1, again.DuplicateMessages);
        Assert.Equal(before.Totals.DistanceKm, (await shoe.GetSnapshotAsync())!.Totals.DistanceKm);
    }

    [Fact]
    public async Task ASinkThatHangs_HoldsNoRound_AndTheEventGetsThroughOnceItAnswers()
    {
        await using var cluster = await GrainCluster.StartAsync();
        var shoe = cluster.Grains.GetGrain<IDeviceGrain>("shoe-hung-sink");
        cluster.Alerts.Hold();

        // The round raises an alert while the sink hangs: it is stored and acked all the same, and the next round too
        // (a grain that waited for the sink would hold these calls until Orleans timed them out).
        var first = await shoe.IngestAsync(Uplink.Run(0, 800, Uplink.Shoe()));
        var second = await shoe.IngestAsync(Uplink.Run(1, 1));
        Assert.Equal([new MessageKey("b1", 0)], first.Acks);
        Assert.Equal([new MessageKey("b1", 1)], second.Acks);
        await cluster.UntilAsync(() => Volatile.Read(ref cluster.Alerts.Held) > 0, "the event at the hung sink");
        Assert.Empty(cluster.Alerts.Events);
        // Still owed, so listed for delivery after a restart.
        Assert.Equal(1, await cluster.Grains.GetGrain<IPendingOutboxGrain>(0).ResumeAsync());

        cluster.Alerts.Release();

        await cluster.UntilAsync(() => cluster.Alerts.Has("shoe-hung-sink", AlertCodes.ShoeReplaceNow, AlertState.Raised), "the event once the sink answers");
        // Confirmed to the twin, which drops it from its outbox and leaves the pending list.
        await cluster.UntilAsync(async () => await cluster.Grains.GetGrain<IPendingOutboxGrain>(0).ResumeAsync() == 0,
            "the twin leaving the pending-outbox list");
        Assert.Single(cluster.Alerts.Events, e => e.Device == "shoe-hung-sink" && e.Code == AlertCodes.ShoeReplaceNow);
    }
}
