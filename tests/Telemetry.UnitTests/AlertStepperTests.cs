using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// A device's alerts without a grain: the cushioning ladder as the value falls and recovers, and after-sales
/// acknowledging, escalating and resolving, with the outcome and reason of each refusal.
/// </summary>
public sealed class AlertStepperTests
{
    /// <summary>The family the stepper keeps one open alert of; any name does, the grain's is the wear assessor's.</summary>
    private const string Cushioning = "cushioning";

    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1_795_428_000_000);

    private readonly DeviceState _state = new()
    {
        Birth = new DeviceBirth { Kind = "shoe", Model = "RUN-1", Batch = "B7", Firmware = "1.0.0" },
    };

    private readonly List<AlertEvent> _events = [];

    private int _evidenceBuilt;

    private AlertStepper Stepper() => new("shoe-1", _state);

    private WearAssessment Assessed(double pct) => new(
        Cushioning,
        AlertLadder.Cushioning,
        pct,
        () =>
        {
            _evidenceBuilt++;
            return [EvidenceItem.Of("cushioning_pct", pct)];
        },
        (code, _) => $"{code} at {pct}");

    [Fact]
    public void Climb_RaisesAWarningThenACritical_AsCushioningFalls()
    {
        var stepper = Stepper();

        stepper.Climb(Assessed(75), Start, _events);
        Assert.Empty(_events);

        stepper.Climb(Assessed(69), Start.AddDays(1), _events);
        var soon = Assert.Single(_events);
        Assert.Equal((AlertCodes.ShoeReplaceSoon, AlertSeverity.Warning, AlertState.Raised), (soon.Code, soon.Severity, soon.State));
        Assert.Equal(("shoe-1", "shoe", "RUN-1", "B7"), (soon.Device, soon.Kind, soon.Model, soon.Batch));
        Assert.Equal($"{AlertCodes.ShoeReplaceSoon} at 69", soon.Message);
        Assert.Equal(new[] { EvidenceItem.Of("cushioning_pct", 69) }, soon.Evidence);
        Assert.Equal(0, _state.AlertLevel(Cushioning));

        _events.Clear();
        stepper.Climb(Assessed(59), Start.AddDays(2), _events);

        // The warning resolves, superseded, under its own id; the critical alert is a new one.
        Assert.Equal(2, _events.Count);
        Assert.Equal((soon.Id, AlertCodes.ShoeReplaceSoon, AlertState.Resolved, "system"), (_events[0].Id, _events[0].Code, _events[0].State, _events[0].Actor));
        Assert.Equal(AlertTexts.Superseded(AlertCodes.ShoeReplaceNow, AlertLocales.En), _events[0].Message);
        Assert.Equal(new[] { EvidenceItem.Of("cushioning_pct", 59) }, _events[0].Evidence);
        Assert.Equal((AlertCodes.ShoeReplaceNow, AlertSeverity.Critical, AlertState.Raised), (_events[1].Code, _events[1].Severity, _events[1].State));
        Assert.NotEqual(soon.Id, _events[1].Id);
        Assert.Equal(1, _state.AlertLevel(Cushioning));
        Assert.Equal(_events[1].Id, _state.OpenAlerts[Cushioning].Id);
        var closed = Assert.Single(_state.ClosedAlerts);
        Assert.Equal((soon.Id, AlertState.Resolved), (closed.Id, closed.State));
        Assert.Equal(new[] { AlertState.Raised, AlertState.Resolved }, closed.History.Select(h => h.State));
    }

    [Fact]
    public void Climb_InsideTheHysteresisBand_RaisesNothingAgainAndBuildsNoEvidence()
    {
        var stepper = Stepper();
        stepper.Climb(Assessed(69.9), Start, _events);
        var raised = Assert.Single(_events);
        Assert.Equal(1, _evidenceBuilt);

        foreach (var pct in new[] { 70.5, 69.5, 71.9, 70 })
        {
            stepper.Climb(Assessed(pct), Start.AddHours(1), _events);
        }

        Assert.Single(_events);
        Assert.Equal(1, _evidenceBuilt);
        Assert.Equal(raised.Id, _state.OpenAlerts[Cushioning].Id);

        stepper.Climb(Assessed(72), Start.AddHours(2), _events);

        Assert.Equal(2, _events.Count);
        Assert.Equal((raised.Id, AlertState.Resolved), (_events[1].Id, _events[1].State));
        Assert.Equal(AlertTexts.Recovered("cushioning", 72, AlertLocales.En), _events[1].Message);
        Assert.False(_state.HasOpenAlerts);
        Assert.Equal(-1, _state.AlertLevel(Cushioning));
        Assert.False(_state.AlertLevels.ContainsKey(Cushioning));
    }

    [Fact]
    public void Change_Acknowledges_ThenRefusesASecondAcknowledgementAsUnchanged()
    {
        var id = RaiseWarning();

        var acked = Stepper().Change(id, AlertState.Acknowledged, "agent-7", "called the wearer", Start.AddHours(1), _events);

        Assert.Equal(AlertChangeOutcome.Changed, acked.Outcome);
        Assert.Null(acked.Reason);
        Assert.Equal(AlertState.Acknowledged, acked.Alert!.Summary.State);
        Assert.Equal(Start.AddHours(1), acked.Alert.Summary.UpdatedAt);
        var ack = Assert.Single(_events);
        Assert.Equal((id, AlertState.Acknowledged, "agent-7", "called the wearer"), (ack.Id, ack.State, ack.Actor, ack.Note));
        Assert.Equal(AlertState.Acknowledged, _state.OpenAlerts[Cushioning].State);

        var again = Stepper().Change(id, AlertState.Acknowledged, "agent-8", null, Start.AddHours(2), _events);

        Assert.Equal((AlertChangeOutcome.Unchanged, "already acknowledged"), (again.Outcome, again.Reason));
        Assert.Single(_events);
        Assert.Equal(Start.AddHours(1), _state.OpenAlerts[Cushioning].UpdatedAt);
    }

    [Fact]
    public void Change_RefusesToEscalateAnAlertSomeoneResponded()
    {
        var id = RaiseWarning();
        Stepper().Change(id, AlertState.Acknowledged, "agent-7", null, Start.AddHours(1), _events);
        _events.Clear();

        var escalated = Stepper().Change(id, AlertState.Escalated, "system", "SLA missed", Start.AddHours(3), _events);

        Assert.Equal((AlertChangeOutcome.Unchanged, "the alert is Acknowledged"), (escalated.Outcome, escalated.Reason));
        Assert.Empty(_events);
    }

    [Fact]
    public void Change_EscalatesARaisedAlertOnce()
    {
        var id = RaiseWarning();

        var first = Stepper().Change(id, AlertState.Escalated, "system", "SLA missed", Start.AddHours(3), _events);
        var second = Stepper().Change(id, AlertState.Escalated, "system", "SLA missed", Start.AddHours(4), _events);

        Assert.Equal(AlertChangeOutcome.Changed, first.Outcome);
        Assert.Equal((AlertChangeOutcome.Unchanged, "the alert is Escalated"), (second.Outcome, second.Reason));
        Assert.Equal(AlertState.Escalated, Assert.Single(_events).State);
    }

    [Fact]
    public void Change_Resolves_ThenAnswersConflictForTheClosedAlertAndNotFoundForAnUnknownOne()
    {
        var id = RaiseWarning();

        var resolved = Stepper().Change(id, AlertState.Resolved, "agent-7", "shoe replaced in store", Start.AddHours(1), _events);

        Assert.Equal(AlertChangeOutcome.Changed, resolved.Outcome);
        Assert.Equal(AlertState.Resolved, resolved.Alert!.Summary.State);
        Assert.Equal((id, AlertState.Resolved, "agent-7"), (_events[0].Id, _events[0].State, _events[0].Actor));
        Assert.False(_state.HasOpenAlerts);
        Assert.Equal(id, Assert.Single(_state.ClosedAlerts).Id);
        // The ladder keeps its level: the wear is still there, and a resolved alert is not raised again for it.
        Assert.Equal(0, _state.AlertLevel(Cushioning));

        var again = Stepper().Change(id, AlertState.Acknowledged, "agent-8", null, Start.AddHours(2), _events);
        var unknown = Stepper().Change("01JUNKNOWN", AlertState.Acknowledged, "agent-8", null, Start.AddHours(2), _events);

        Assert.Equal((AlertChangeOutcome.Conflict, "the alert is already resolved", id), (again.Outcome, again.Reason, again.Alert?.Summary.Id));
        Assert.Equal(AlertChangeOutcome.NotFound, unknown.Outcome);
        Assert.Null(unknown.Alert);
        Assert.Null(unknown.Reason);
        Assert.Single(_events);
    }

    [Fact]
    public void ClosedAlerts_KeepTheLatestFifty()
    {
        var first = RaiseWarning();
        Stepper().Change(first, AlertState.Resolved, "agent", null, Start, _events);
        for (var i = 0; i < AlertStepper.MaxClosedAlerts; i++)
        {
            Stepper().Raise(AlertCodes.BandWaterIngressSuspected, AlertSeverity.Critical, Start, "wet", [], _events);
            Stepper().Resolve(AlertCodes.BandWaterIngressSuspected, Start, "agent", "dried", null, null, _events);
        }

        Assert.Equal(AlertStepper.MaxClosedAlerts, _state.ClosedAlerts.Count);
        Assert.DoesNotContain(_state.ClosedAlerts, a => a.Id == first);
        Assert.Null(Stepper().Find(first));
    }

    [Fact]
    public void Summary_KeepsWhenAndWithWhichWordsTheAlertWasRaised()
    {
        var id = RaiseWarning();
        Stepper().Change(id, AlertState.Resolved, "agent-7", "done", Start.AddHours(5), _events);

        var summary = Stepper().Summary(_events[^1]);

        Assert.Equal((id, AlertState.Resolved, Start, Start.AddHours(5)), (summary.Id, summary.State, summary.RaisedAt, summary.UpdatedAt));
        Assert.Equal($"{AlertCodes.ShoeReplaceSoon} at 69", summary.Message);
    }

    private string RaiseWarning()
    {
        Stepper().Climb(Assessed(69), Start, _events);
        var raised = Assert.Single(_events);
        _events.Clear();
        return raised.Id;
    }
}
