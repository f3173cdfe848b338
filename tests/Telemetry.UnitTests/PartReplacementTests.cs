using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>A replaced part starts from new and closes its own alerts, and only its own; a birth reporting a new
/// serial is a replacement by the device.</summary>
public sealed class PartReplacementTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_795_428_000_000);

    private static readonly DeviceBirth ShoeBirth = new()
    {
        Kind = "shoe",
        Model = "RUN-1",
        Batch = "B7",
        Firmware = "1.0.0",
        Parts = new InstalledParts { Shoe = "S-100", Insole = "I-100" },
    };

    private readonly DeviceState _state = new() { Birth = ShoeBirth };

    private readonly List<AlertEvent> _events = [];

    private AlertStepper Alerts() => new("shoe-1", _state);

    /// <summary>A worn shoe: 600 km, its cushioning at the critical level, a suspected delamination.</summary>
    private (string Cushioning, string Delamination) Worn()
    {
        _state.DistanceM = 600_000;
        _state.ShoeUsage.Observe(0, 600_000, null, 9.5);
        _state.Faults.DelaminationStreak = 1;
        _state.Wear = new WearSnapshot { ModelVersion = "rules-1", EstimatedAt = Now, CushioningPct = 58 };
        _state.AlertLevels[WearAssessor.CushioningFamily] = 1;
        Alerts().Raise(WearAssessor.CushioningFamily, AlertSeverity.Critical, Now, "replace now", [EvidenceItem.Of("cushioning_pct", 58)], _events);
        Alerts().Raise(AlertCodes.ShoeDelaminationSuspected, AlertSeverity.Critical, Now, "sole", [], _events);
        var ids = (_events[0].Id, _events[1].Id);
        _events.Clear();
        return ids;
    }

    [Fact]
    public void Shoe_ResolvesItsAlertsAndResetsItsWear()
    {
        var (cushioning, delamination) = Worn();

        PartReplacement.Replace(_state, Alerts(), "shoe", Now.AddDays(1), "after-sales", "new pair under warranty", _events);

        Assert.Equal(new[] { cushioning, delamination }, _events.Select(e => e.Id));
        Assert.All(_events, e => Assert.Equal(
            (AlertState.Resolved, Now.AddDays(1), "after-sales", "new pair under warranty", "new pair under warranty"),
            (e.State, e.At, e.Actor, e.Note, e.Message)));
        Assert.Equal(new[] { EvidenceItem.Of("cushioning_pct", 58) }, _events[0].Evidence);
        Assert.False(_state.HasOpenAlerts);
        Assert.Equal(-1, _state.AlertLevel(WearAssessor.CushioningFamily));
        Assert.Equal(new[] { cushioning, delamination }, _state.ClosedAlerts.Select(a => a.Id));
        Assert.Equal((0.0, 0.0, 0, 0), (_state.DistanceM, _state.ShoeUsage.DistanceKm, _state.ShoeUsage.ImpactBaselineCount, _state.Faults.DelaminationStreak));
        Assert.Null(_state.Wear);
    }

    [Fact]
    public void Insole_ResolvesOnlyTheCushioning_AndKeepsTheSolesFaultMemory()
    {
        var (cushioning, delamination) = Worn();

        PartReplacement.Replace(_state, Alerts(), "insole", Now, "after-sales", null, _events);

        var resolved = Assert.Single(_events);
        Assert.Equal((cushioning, "The insole was replaced.", (string?)null), (resolved.Id, resolved.Message, resolved.Note));
        Assert.Equal(delamination, _state.OpenAlerts[AlertCodes.ShoeDelaminationSuspected].Id);
        Assert.Equal(1, _state.Faults.DelaminationStreak);
        Assert.Equal(0, _state.DistanceM);
    }

    [Fact]
    public void AnUnknownPart_IsRefusedAndChangesNothing()
    {
        Worn();

        Assert.Throws<ArgumentOutOfRangeException>(() => PartReplacement.Replace(_state, Alerts(), "laces", Now, "after-sales", null, _events));

        Assert.Empty(_events);
        Assert.Equal(2, _state.OpenAlerts.Count);
        Assert.Equal(600_000, _state.DistanceM);
        Assert.NotNull(_state.Wear);
    }

    [Fact]
    public void ABirthWithANewShoeSerial_ReplacesTheShoeAsTheDevice()
    {
        var (cushioning, _) = Worn();
        var birth = ShoeBirth with { Firmware = "1.0.1", Parts = new InstalledParts { Shoe = "S-200", Insole = "I-100", Battery = "X-1" } };

        var replaced = PartReplacement.ApplyBirth(_state, Alerts(), birth, Now, _events);

        Assert.Equal(new[] { "shoe" }, replaced);
        Assert.Same(birth, _state.Birth);
        Assert.Equal(2, _events.Count);
        Assert.Equal(
            (cushioning, "device", "The device reports a new shoe (S-200) in place of S-100."),
            (_events[0].Id, _events[0].Actor, _events[0].Message));
    }

    [Fact]
    public void AFirstBirth_OrOneOfAnotherKindsPart_ReplacesNothing()
    {
        var state = new DeviceState();
        Assert.Empty(PartReplacement.ApplyBirth(state, new AlertStepper("shoe-1", state), ShoeBirth, Now, _events));
        Assert.Same(ShoeBirth, state.Birth);

        // A shoe pod has no battery part the twin tracks: a new battery serial on a shoe is only recorded.
        var withBattery = ShoeBirth with { Parts = ShoeBirth.Parts! with { Battery = "X-1" } };
        var newBattery = ShoeBirth with { Parts = ShoeBirth.Parts! with { Battery = "X-2" } };
        PartReplacement.ApplyBirth(state, new AlertStepper("shoe-1", state), withBattery, Now, _events);

        Assert.Empty(PartReplacement.ApplyBirth(state, new AlertStepper("shoe-1", state), newBattery, Now, _events));
        Assert.Empty(_events);
    }
}
