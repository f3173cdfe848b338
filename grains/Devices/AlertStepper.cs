using Telemetry.Grains.Alerts;

namespace Telemetry.Grains.Devices;

/// <summary>
/// Moves one device's alerts through their states in its twin: a wear ladder's steps, a fault raised once, an
/// after-sales acknowledgement or resolution, a resolution by a part replacement. Each change is applied to the
/// state and appended as an <see cref="AlertEvent"/>; storing and delivering those events is the grain's work.
/// </summary>
/// <param name="device">The device id the events and views name.</param>
/// <param name="state">The twin; its birth gives the events' kind, model and batch at the moment each is made, and the
/// language of the alerts raised.</param>
/// <param name="defaultLocale">The language of alerts raised for a device whose birth names none (<c>Alerts:DefaultLocale</c>).</param>
internal sealed class AlertStepper(string device, DeviceState state, string defaultLocale = AlertLocales.En)
{
    /// <summary>How many resolved alerts a twin keeps with their history, for views of an alert after it closed.</summary>
    public const int MaxClosedAlerts = 50;

    /// <summary>The language an alert raised now is written in: the birth's locale, else the configured default.</summary>
    public string Locale => state.Birth?.Locale ?? defaultLocale;

    /// <summary>The language of the last word said of <paramref name="family"/>'s open alert: the one it was raised in,
    /// so one alert never changes language; <see cref="Locale"/> when none is open.</summary>
    public string LocaleOf(string family) =>
        state.OpenAlerts.TryGetValue(family, out var open) ? open.Locale ?? AlertLocales.En : Locale;

    /// <summary>
    /// Moves the assessed family to the level its ladder gives for the assessed value: the open alert of the old
    /// level resolves (superseded, or recovered), and one of the new level is raised. Nothing happens, and the
    /// evidence is not built, while the level stays.
    /// </summary>
    public void Climb(in WearAssessment wear, DateTimeOffset now, List<AlertEvent> events)
    {
        var current = state.AlertLevel(wear.Family);
        var next = wear.Ladder.Evaluate(current, wear.Value);
        if (next == current)
        {
            return;
        }

        var evidence = wear.Evidence();
        var closing = LocaleOf(wear.Family);
        var text = next >= 0 ? AlertTexts.Superseded(wear.Ladder.Levels[next].Code, closing) : AlertTexts.Recovered(wear.Family, wear.Value, closing);
        Resolve(wear.Family, now, "system", text, note: null, evidence, events);
        if (next < 0)
        {
            state.AlertLevels.Remove(wear.Family);
            return;
        }

        var level = wear.Ladder.Levels[next];
        var raised = NewEvent(Ulid.New(now), level.Code, level.Severity, AlertState.Raised, now, wear.RaisedText(level.Code, Locale), evidence);
        state.AlertLevels[wear.Family] = next;
        state.OpenAlerts[wear.Family] = Opened(raised);
        events.Add(raised);
    }

    /// <summary>Raises a new alert that is its own family (a fault: one open alert per code), which has none open;
    /// <paramref name="message"/> is in <see cref="Locale"/>.</summary>
    public void Raise(string code, AlertSeverity severity, DateTimeOffset now, string message, EvidenceItem[] evidence, List<AlertEvent> events)
    {
        var raised = NewEvent(Ulid.New(now), code, severity, AlertState.Raised, now, message, evidence);
        state.OpenAlerts[code] = Opened(raised);
        events.Add(raised);
    }

    /// <summary>
    /// Resolves the open alert of <paramref name="family"/>, if there is one, with <paramref name="text"/> as its last
    /// word; <paramref name="evidence"/>, when given, replaces what the alert showed. Returns whether one was open.
    /// </summary>
    public bool Resolve(
        string family, DateTimeOffset now, string actor, string text, string? note, EvidenceItem[]? evidence, List<AlertEvent> events)
    {
        if (!state.OpenAlerts.Remove(family, out var open))
        {
            return false;
        }

        var closed = open.Then(AlertState.Resolved, now, actor, text);
        Close(evidence is null ? closed : closed with { Evidence = evidence });
        events.Add(NewEvent(open.Id, open.Code, open.Severity, AlertState.Resolved, now, text, evidence ?? open.Evidence) with { Actor = actor, Note = note });
        return true;
    }

    /// <summary>
    /// An after-sales request to move an alert to <paramref name="target"/> (acknowledged, escalated or resolved). Refused
    /// without a change, and without an event, when the alert is unknown (<see cref="AlertChangeOutcome.NotFound"/>),
    /// already resolved (<see cref="AlertChangeOutcome.Conflict"/>), already acknowledged, or, for an escalation, no longer
    /// merely raised (<see cref="AlertChangeOutcome.Unchanged"/>).
    /// </summary>
    public AlertChange Change(string alertId, AlertState target, string actor, string? note, DateTimeOffset now, List<AlertEvent> events)
    {
        var family = state.OpenAlerts.FirstOrDefault(p => p.Value.Id == alertId).Key;
        if (family is null)
        {
            return state.ClosedAlerts.Find(a => a.Id == alertId) is { } closed
                ? new AlertChange(AlertChangeOutcome.Conflict, View(closed), "the alert is already resolved")
                : new AlertChange(AlertChangeOutcome.NotFound, null, null);
        }

        var open = state.OpenAlerts[family];
        if (target == AlertState.Acknowledged && open.State == AlertState.Acknowledged)
        {
            return new AlertChange(AlertChangeOutcome.Unchanged, View(open), "already acknowledged");
        }

        if (target == AlertState.Escalated && open.State != AlertState.Raised)
        {
            // Someone responded (or it escalated already): the SLA is met or already acted on.
            return new AlertChange(AlertChangeOutcome.Unchanged, View(open), $"the alert is {open.State}");
        }

        var changed = open.Then(target, now, actor, note);
        if (target == AlertState.Resolved)
        {
            state.OpenAlerts.Remove(family);
            Close(changed);
        }
        else
        {
            state.OpenAlerts[family] = changed;
        }

        events.Add(NewEvent(changed.Id, changed.Code, changed.Severity, target, now, changed.Message, changed.Evidence) with { Actor = actor, Note = note });
        return new AlertChange(AlertChangeOutcome.Changed, View(changed), null);
    }

    /// <summary>An alert of this device, open or recently resolved.</summary>
    public OpenAlert? Find(string alertId) =>
        state.OpenAlerts.Select(p => p.Value).FirstOrDefault(a => a.Id == alertId) ?? state.ClosedAlerts.Find(a => a.Id == alertId);

    /// <summary>The alert index's entry after <paramref name="alert"/>: raised when and with the words the alert was
    /// first raised with, if the twin still holds it.</summary>
    public AlertSummary Summary(AlertEvent alert)
    {
        var record = Find(alert.Id);
        return new AlertSummary
        {
            Id = alert.Id,
            Device = alert.Device,
            Kind = alert.Kind,
            Model = alert.Model,
            Batch = alert.Batch,
            Code = alert.Code,
            Severity = alert.Severity,
            State = alert.State,
            RaisedAt = record?.RaisedAt ?? alert.At,
            UpdatedAt = alert.At,
            Message = record?.Message ?? alert.Message,
        };
    }

    public AlertView View(OpenAlert alert) => new()
    {
        Summary = new AlertSummary
        {
            Id = alert.Id,
            Device = device,
            Kind = state.Birth?.Kind,
            Model = state.Birth?.Model,
            Batch = state.Birth?.Batch,
            Code = alert.Code,
            Severity = alert.Severity,
            State = alert.State,
            RaisedAt = alert.RaisedAt,
            UpdatedAt = alert.UpdatedAt == default ? alert.RaisedAt : alert.UpdatedAt,
            Message = alert.Message,
        },
        Evidence = alert.Evidence,
        History = alert.History,
    };

    private void Close(OpenAlert alert)
    {
        state.ClosedAlerts.Add(alert);
        if (state.ClosedAlerts.Count > MaxClosedAlerts)
        {
            state.ClosedAlerts.RemoveAt(0);
        }
    }

    private OpenAlert Opened(AlertEvent raised) =>
        new OpenAlert(raised.Id, raised.Code, raised.Severity, raised.At, raised.Message) { Evidence = raised.Evidence, UpdatedAt = raised.At, Locale = Locale }
            .Then(AlertState.Raised, raised.At, "system", null) with { State = AlertState.Raised };

    private AlertEvent NewEvent(
        string id, string code, AlertSeverity severity, AlertState alertState, DateTimeOffset at, string message, EvidenceItem[] evidence) => new()
    {
        Id = id,
        Device = device,
        Kind = state.Birth?.Kind,
        Model = state.Birth?.Model,
        Batch = state.Birth?.Batch,
        Code = code,
        Severity = severity,
        State = alertState,
        At = at,
        Message = message,
        Evidence = evidence,
    };
}
