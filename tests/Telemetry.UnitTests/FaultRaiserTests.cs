using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Faults;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>A round's fault findings raised as alerts, once per fault code, and reported to the quality view once.</summary>
public sealed class FaultRaiserTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_795_428_000_000);

    private readonly DeviceState _state = new()
    {
        Birth = new DeviceBirth { Kind = "band", Model = "FIT-2", Batch = "B3", Firmware = "2.1.0" },
    };

    private readonly List<AlertEvent> _events = [];

    private static FaultFinding Ingress(double humidityPct) =>
        new("water_ingress", 7.2, [("humidity_z", 7.2), ("humidity_pct", humidityPct)]);

    [Fact]
    public void Raise_MakesACriticalAlertPerFinding_AndReportsTheFailureAtTheReadingsTime()
    {
        var raiser = new FaultRaiser();
        var readAtMs = Now.AddHours(-3).ToUnixTimeMilliseconds();
        raiser.Found(Ingress(88), readAtMs);

        raiser.Raise(_state, new AlertStepper("band-1", _state), Now, _events);

        var raised = Assert.Single(_events);
        Assert.Equal(
            (AlertCodes.BandWaterIngressSuspected, AlertSeverity.Critical, AlertState.Raised, "band-1", "FIT-2", "B3", Now),
            (raised.Code, raised.Severity, raised.State, raised.Device, raised.Model, raised.Batch, raised.At));
        Assert.Equal(AlertTexts.Fault(AlertCodes.BandWaterIngressSuspected, AlertLocales.En), raised.Message);
        Assert.Equal(EvidenceBuilder.Fault(Ingress(88)), raised.Evidence);
        Assert.Equal(raised.Id, _state.OpenAlerts[AlertCodes.BandWaterIngressSuspected].Id);
        Assert.Equal(new[] { ("water_ingress", DateTimeOffset.FromUnixTimeMilliseconds(readAtMs)) }, raiser.TakeNewFailures());
        Assert.Empty(raiser.TakeNewFailures());
    }

    [Fact]
    public void Raise_TheSameFaultAgain_OnlyBringsTheOpenAlertsEvidenceUpToDate()
    {
        var first = new FaultRaiser();
        first.Found(Ingress(88), Now.ToUnixTimeMilliseconds());
        first.Raise(_state, new AlertStepper("band-1", _state), Now, _events);
        var id = Assert.Single(_events).Id;

        var later = new FaultRaiser();
        later.Found(Ingress(93), Now.AddHours(1).ToUnixTimeMilliseconds());
        later.Found(Ingress(95), Now.AddHours(2).ToUnixTimeMilliseconds());
        later.Raise(_state, new AlertStepper("band-1", _state), Now.AddHours(2), _events);

        Assert.Single(_events);
        Assert.Empty(later.TakeNewFailures());
        var open = _state.OpenAlerts[AlertCodes.BandWaterIngressSuspected];
        Assert.Equal((id, AlertState.Raised, Now), (open.Id, open.State, open.UpdatedAt));
        Assert.Equal(EvidenceBuilder.Fault(Ingress(95)), open.Evidence);
    }

    [Fact]
    public void Raise_RaisesEachFindingOnce()
    {
        var raiser = new FaultRaiser();
        raiser.Found(Ingress(88), Now.ToUnixTimeMilliseconds());
        raiser.Raise(_state, new AlertStepper("band-1", _state), Now, _events);
        _state.OpenAlerts.Clear();

        raiser.Raise(_state, new AlertStepper("band-1", _state), Now, _events);

        Assert.Single(_events);
    }

    [Fact]
    public void Detect_FindsADelaminatingSole_OnceTheStepPersists()
    {
        var shoe = new DeviceState { Birth = new DeviceBirth { Kind = "shoe", Model = "RUN-1", Batch = "B7", Firmware = "1.0.0" } };
        var random = new Random(11);
        for (var i = 0; i < FaultDetector.BaselineReadings; i++)
        {
            var healthy = new FaultSignals(8 + (random.NextDouble() * 0.4), 240 + (random.NextDouble() * 8), null, null, null);
            Assert.Null(FaultRaiser.Detect(shoe, healthy));
        }

        // The sole comes loose: harder strikes, longer ground contact, every run from now on.
        var loose = new FaultSignals(11, 290, null, null, null);
        var findings = Enumerable.Range(0, 6).Select(_ => FaultRaiser.Detect(shoe, loose)).ToList();

        // Three runs fill the recent window; the fourth is the second in a row that shows the step (the persistence).
        Assert.Equal(3, findings.FindIndex(f => f is not null));
        Assert.All(findings.Skip(3), f => Assert.Equal("delamination", f?.Mode));
    }

    [Fact]
    public void Detect_WithoutABirth_FeedsNoDetector()
    {
        var unknown = new DeviceState();

        Assert.Null(FaultRaiser.Detect(unknown, new FaultSignals(11, 290, 95, 10, 200)));
        Assert.Empty(unknown.Faults.Impact.Baseline);
        Assert.Empty(unknown.Faults.Humidity.Baseline);
    }
}
