using Microsoft.AspNetCore.Http;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Quality;
using Telemetry.Ingest.Console;
using Telemetry.Ingest.Hosting;
using Telemetry.Models.Wear;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>What the console's pages compute before the library draws it: queue order and countdowns, the wear
/// trajectory, the quality order, and which paths the console takes.</summary>
public sealed class ConsoleViewTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Queue_ReadsEveryAlertOfAState_PageByPage_OldestIncluded()
    {
        // 2,500 raised alerts, newest first as the index pages them: one page of 1,000 would end 1,500 short of the oldest.
        var all = Enumerable.Range(0, 2500).Select(i => new AlertSummary
        {
            Id = $"01Q{i:D5}", Device = $"shoe-{i:D5}", Code = AlertCodes.ShoeReplaceSoon, Severity = AlertSeverity.Warning,
            State = AlertState.Raised, RaisedAt = Now.AddMinutes(-i), UpdatedAt = Now.AddMinutes(-i), Message = "m",
        }).ToArray();
        var calls = 0;

        var read = await OpenAlerts.AllAsync((offset, limit) =>
        {
            calls++;
            return Task.FromResult(new AlertPage(all.Skip(offset).Take(limit).ToArray(), all.Length));
        });

        Assert.Equal(all.Select(a => a.Id), read.Select(a => a.Id));
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Queue_StopsAtAnEmptyPage_WhenAlertsLeaveTheStateWhileItReads()
    {
        var first = new AlertPage([new AlertSummary
        {
            Id = "01QONLY", Device = "shoe-1", Code = AlertCodes.ShoeReplaceSoon, Severity = AlertSeverity.Warning,
            State = AlertState.Raised, RaisedAt = Now, UpdatedAt = Now, Message = "m",
        }], 5);

        var read = await OpenAlerts.AllAsync((offset, _) => Task.FromResult(offset == 0 ? first : new AlertPage([], 5)), pageSize: 1);

        Assert.Equal(["01QONLY"], read.Select(a => a.Id));
    }

    [Fact]
    public void Queue_PutsEscalatedFirst_ThenTheNearestDeadline_ThenAcknowledged()
    {
        var sla = new SlaOptions();
        QueueRow Row(string id, AlertSeverity severity, AlertState state, TimeSpan age)
        {
            var alert = Alert(id, severity, state, Now - age);
            return new QueueRow(alert, sla.Deadline(alert));
        }

        var rows = new[]
        {
            Row("acked", AlertSeverity.Critical, AlertState.Acknowledged, TimeSpan.FromMinutes(5)),
            Row("warning-old", AlertSeverity.Warning, AlertState.Raised, TimeSpan.FromHours(20)),
            Row("critical-new", AlertSeverity.Critical, AlertState.Raised, TimeSpan.FromMinutes(1)),
            Row("escalated", AlertSeverity.Critical, AlertState.Escalated, TimeSpan.FromHours(3)),
            Row("info", AlertSeverity.Info, AlertState.Raised, TimeSpan.FromMinutes(1)),
        };

        Assert.Equal(["escalated", "critical-new", "warning-old", "info", "acked"], QueueRow.Ordered(rows).Select(r => r.Id));
    }

    [Fact]
    public void FirstResponse_CountsDown_ThenShowsOverdue_AndStopsOnceAcknowledged()
    {
        var sla = new SlaOptions();
        var raised = Alert("a", AlertSeverity.Critical, AlertState.Raised, Now - TimeSpan.FromMinutes(30));
        var row = new QueueRow(raised, sla.Deadline(raised));

        Assert.Equal(("1:30:00", false), row.FirstResponse(Now));
        Assert.Equal(("escalated · overdue 0:15:00", true), row.FirstResponse(Now + TimeSpan.FromMinutes(105)));
        Assert.Equal(("responded", false), (row with { Alert = raised with { State = AlertState.Acknowledged } }).FirstResponse(Now));
        var info = Alert("i", AlertSeverity.Info, AlertState.Raised, Now);
        Assert.Equal(("no deadline", false), new QueueRow(info, sla.Deadline(info)).FirstResponse(Now));
        Assert.Equal("3d 4h", QueueRow.Duration(TimeSpan.FromHours(76)));
    }

    [Fact]
    public void WearTrajectory_OfAShoe_PassesThroughItsEstimate_WithTheBandAndBothThresholds()
    {
        var twin = Twin(distanceKm: 300, wear: new WearSnapshot
        {
            ModelVersion = "test", EstimatedAt = Now, CushioningPct = 66, RemainingKm = 400, RemainingP10 = 250, RemainingP90 = 600,
        });

        var t = WearTrajectory.For(twin)!;

        Assert.Equal(("km", 300, 66), (t.XTitle, t.Now.X, t.Now.Value));
        Assert.Equal(new WearPoint(300, 66), t.Past[^1]);
        Assert.Equal(new WearPoint(300, 66), t.Projected[0]);
        Assert.Equal(100, t.Past[0].Value, 6);
        Assert.True(t.Past.Zip(t.Past.Skip(1)).All(p => p.Second.Value <= p.First.Value), "cushioning only falls with distance");
        Assert.Equal([550.0, 900.0], t.Band.Select(b => b.X));
        Assert.Equal([70.0, 60.0], t.Thresholds.Select(l => l.Level.Below));
        // Scaled through the estimate, the curve crosses 60% near the end of life the model gives (300 + 400 km).
        var crossing = t.Projected.First(p => p.Value < CushioningCurve.ReplaceNowPct).X;
        Assert.InRange(crossing, 500, 900);
    }

    [Fact]
    public void WearTrajectory_OfABand_IsAgainstCycles_AndTheRuleModelHasNoBand()
    {
        var twin = Twin(distanceKm: 0, wear: new WearSnapshot { ModelVersion = "rule", EstimatedAt = Now, BatteryHealthPct = 90, RemainingCycles = 100 },
            cycles: 200);

        var t = WearTrajectory.For(twin)!;

        Assert.Equal(("charge cycles", 200, 90), (t.XTitle, t.Now.X, t.Now.Value));
        Assert.Empty(t.Band);
        Assert.Equal([80.0], t.Thresholds.Select(l => l.Level.Below));
        Assert.Null(WearTrajectory.For(Twin(0, wear: null)));
    }

    [Fact]
    public void Quality_ListsElevatedThenWatchThenNormal()
    {
        DefectRateRow Rate(string batch, string status, double p) => new()
        {
            Model = "m", Batch = batch, FailureMode = "delamination", Devices = 40, DeviceDays = 400, DeviceKm = 1000, Failures = 1,
            Rate = 0.1, CiLow = 0.01, CiHigh = 0.2, Baseline = 0.05, PValue = p, Status = status,
        };

        var ordered = QualityRow.Ordered([Rate("a", "normal", 0.5), Rate("b", "watch", 0.01), Rate("c", "elevated", 0.0001), Rate("d", "elevated", 0.00001)]);

        Assert.Equal(["d", "c", "b", "a"], ordered.Select(r => r.Row.Batch));
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("/quality", true)]
    [InlineData("/pipeline", true)]
    [InlineData("/devices/shoe-00021", true)]
    [InlineData("/_blazor/negotiate", true)]
    [InlineData("/_framework/blazor.web.js", true)]
    [InlineData("/_content/Radzen.Blazor/css/material.css", true)]
    [InlineData("/console.css", true)]
    [InlineData("/api/alerts", false)]
    [InlineData("/api/devices/shoe-00021", false)]
    [InlineData("/metrics", false)]
    [InlineData("/health", false)]
    [InlineData("/devices", false)]
    [InlineData("/devices/a/b", false)]
    [InlineData("/favicon.ico", false)]
    public void ConsoleTakesOnlyItsOwnPaths(string path, bool console) =>
        Assert.Equal(console, TelemetryHostingExtensions.IsConsolePath(new PathString(path)));

    private static AlertSummary Alert(string id, AlertSeverity severity, AlertState state, DateTimeOffset raisedAt) => new()
    {
        Id = id, Device = "shoe-1", Code = "shoe.cushioning.replace_soon", Severity = severity, State = state, RaisedAt = raisedAt,
        UpdatedAt = raisedAt, Message = "m",
    };

    private static DeviceSnapshot Twin(double distanceKm, WearSnapshot? wear, long? cycles = null) => new()
    {
        Id = "d", Totals = new DeviceTotals { DistanceKm = distanceKm, ChargeCycles = cycles }, Wear = wear, OpenAlerts = [],
        LastValues = new Dictionary<string, double>(), Acked = [],
    };
}
