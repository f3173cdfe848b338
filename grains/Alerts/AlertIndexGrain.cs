using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Storage;

namespace Telemetry.Grains.Alerts;

/// <summary>The alert index's persisted state.</summary>
[GenerateSerializer, Alias("telemetry.alert-index-state")]
public sealed class AlertIndexState
{
    [Id(0)] public Dictionary<string, AlertSummary> Alerts { get; set; } = [];
}

/// <summary>
/// Keeps the latest summary of every alert, bounded to <see cref="MaxAlerts"/> (the oldest resolved go first).
/// Queries scan in memory: at this size that is microseconds, and it keeps filtering exact.
/// <para>
/// It also keeps the first-response SLAs: an Orleans grain timer is armed for the earliest deadline among the
/// alerts nobody has answered, and when it fires the alerts past their deadline are escalated by their device
/// grains (which store and publish the change). The timer runs on Orleans' grain clock
/// (<see cref="TimeProviderNames.Grains"/>), so tests move time instead of waiting; it keeps the grain active
/// while a deadline is pending, and the host wakes the grain at start-up so deadlines survive a restart.
/// </para>
/// <para>
/// A timer lives and dies with its silo. When the silo has a reminder store (<c>Orleans:Reminders</c>, required in a
/// cluster), the index also keeps one Orleans reminder, <see cref="WakeReminder"/>, registered while any deadline is
/// pending: if the silo holding the index dies, the reminder activates it on a survivor within
/// <see cref="WakePeriod"/> (plus the time the cluster takes to declare the silo dead), where it reads its stored
/// state and arms its timer again. One reminder for the index rather than one per alert: deadlines keep the
/// timer's precision, the reminder store sees a write only when the first deadline appears or the last one goes
/// (not per alert raised or acknowledged), and 100,000 open alerts cost one row, not 100,000 rows each ticking on
/// its own. Without a reminder store (a single node by default) only the timer runs.
/// </para>
/// </summary>
[GrainType("alert-index")]
internal sealed partial class AlertIndexGrain(
    [PersistentState("alert-index", DeviceGrain.StorageName)] IPersistentState<AlertIndexState> index,
    IOptions<AlertsOptions> options,
    [FromKeyedServices(TimeProviderNames.Grains)] TimeProvider clock,
    AlertMetrics metrics,
    ILogger<AlertIndexGrain> logger) : Grain, IAlertIndexGrain, IRemindable
{
    public const int MaxAlerts = 100_000;

    /// <summary>The reminder that wakes the index on a surviving silo while deadlines are pending.</summary>
    public const string WakeReminder = "sla-wake";

    /// <summary>How often the reminder ticks: Orleans' shortest reminder period by default; the timer keeps the
    /// precision, this only bounds how late a deadline can be after its silo died.</summary>
    public static readonly TimeSpan WakePeriod = TimeSpan.FromMinutes(1);

    /// <summary>After a failed escalation round, try again this much later.</summary>
    private static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(1);

    /// <summary>How far behind the stored index may be.</summary>
    private static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(1);

    /// <summary>Names this activation for <see cref="FlushAsync"/>.</summary>
    private readonly Guid _activation = Guid.NewGuid();

    private IGrainTimer? _slaTimer;
    private DateTimeOffset? _armedFor;

    /// <summary>Whether the wake reminder is registered, as far as this activation knows (null: not yet checked).</summary>
    private bool? _reminderHeld;

    /// <summary>An escalation round is running (the timer and the reminder may both start one).</summary>
    private bool _escalating;

    /// <summary>After a round in which an escalation failed, no round starts before this (<see cref="RetryAfter"/>),
    /// whatever else arms the timer meanwhile: every alert upserted would otherwise start one against the failing
    /// device at once.</summary>
    private DateTimeOffset? _retryNotBefore;

    /// <summary>The one-shot timer that brings the wake reminder in step (<see cref="SyncReminder"/>).</summary>
    private IGrainTimer? _reminderTimer;

    private bool _syncingReminder;

    /// <summary>How long one reminder-store call may take.</summary>
    private static readonly TimeSpan ReminderTimeout = TimeSpan.FromSeconds(5);

    /// <summary>After a failed reminder-store call, try again this much later.</summary>
    private static readonly TimeSpan ReminderRetry = TimeSpan.FromSeconds(10);

    private bool RemindersAvailable => ServiceProvider.GetService<IReminderTable>() is not null;
    private WriteBehind<AlertIndexState>? _writeBehind;

    private WriteBehind<AlertIndexState> Saver => _writeBehind ??= new(this, index, SaveInterval);

    private SlaOptions Sla => options.Value.Sla;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Arm();
        SyncReminder();
        return Task.CompletedTask;
    }

    public Task<Guid> UpsertAsync(AlertSummary alert)
    {
        if (index.State.Alerts.TryGetValue(alert.Id, out var known) && (known == alert || IsOlder(alert, known)))
        {
            // The same, or an event the index has already seen overtaken: one that waited in a fan-out lane while the
            // twin's next activation delivered newer ones, or an escalation this grain took from the twin's answer.
            return Task.FromResult(_activation);
        }

        Put(alert);
        return Task.FromResult(_activation);
    }

    public async Task<Guid> FlushAsync()
    {
        await Saver.SaveAsync(CancellationToken.None);
        return _activation;
    }

    /// <summary>
    /// Whether <paramref name="candidate"/> describes an earlier moment of the alert than <paramref name="known"/>. An
    /// alert only moves forward through raised, escalated, acknowledged and resolved (an escalation is made only from
    /// raised, and a raise always has a new id), so the state's rank orders its summaries; within one state, the time.
    /// </summary>
    internal static bool IsOlder(AlertSummary candidate, AlertSummary known) =>
        Rank(candidate.State) != Rank(known.State) ? Rank(candidate.State) < Rank(known.State) : candidate.UpdatedAt < known.UpdatedAt;

    private static int Rank(AlertState state) => state switch
    {
        AlertState.Raised => 0,
        AlertState.Escalated => 1,
        AlertState.Acknowledged => 2,
        _ => 3,
    };

    /// <summary>Stores a summary, trims the oldest resolved past <see cref="MaxAlerts"/>, and keeps the SLA timer and
    /// the wake reminder in step.</summary>
    private void Put(AlertSummary alert)
    {
        index.State.Alerts[alert.Id] = alert;
        if (index.State.Alerts.Count > MaxAlerts)
        {
            foreach (var old in index.State.Alerts.Values.Where(a => a.State == AlertState.Resolved).OrderBy(a => a.UpdatedAt).Take(index.State.Alerts.Count - MaxAlerts).ToList())
            {
                index.State.Alerts.Remove(old.Id);
            }
        }

        // The index is a view of what device grains have stored: written behind, at most once per
        // SaveInterval and on deactivation, so its write rate does not grow with the alert rate. What a crash
        // loses, device grains report again when they next activate.
        Saver.Changed();
        if (!_escalating)
        {
            // During an escalation round the round arms the timer when it ends, from what it leaves pending.
            Arm();
            SyncReminder();
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await Saver.SaveAsync(cancellationToken);
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    public Task<AlertPage> QueryAsync(AlertFilter filter, int offset, int limit)
    {
        var matches = index.State.Alerts.Values.Where(filter.Matches).ToList();
        var page = matches.OrderByDescending(a => a.RaisedAt).ThenByDescending(a => a.Id, StringComparer.Ordinal).Skip(offset).Take(limit).ToArray();
        return Task.FromResult(new AlertPage(page, matches.Count));
    }

    public Task<string?> DeviceOfAsync(string alertId) =>
        Task.FromResult(index.State.Alerts.TryGetValue(alertId, out var alert) ? alert.Device : null);

    public Task<SlaStatus> GetSlaStatusAsync() => Task.FromResult(new SlaStatus(
        index.State.Alerts.Values.Count(a => a.State == AlertState.Raised && Sla.Deadline(a) is not null), NextDeadline()));

    private DateTimeOffset? NextDeadline()
    {
        DateTimeOffset? next = null;
        foreach (var alert in index.State.Alerts.Values)
        {
            if (alert.State == AlertState.Raised && Sla.Deadline(alert) is { } deadline && (next is null || deadline < next))
            {
                next = deadline;
            }
        }

        return next;
    }

    /// <summary>Points the timer at the earliest pending deadline (not before a failed round's retry), or stops it when
    /// none is pending.</summary>
    private void Arm()
    {
        var next = NextDeadline();
        if (next is { } pending && _retryNotBefore is { } notBefore && pending < notBefore)
        {
            next = notBefore;
        }

        if (next == _armedFor)
        {
            return;
        }

        _armedFor = next;
        if (next is not { } deadline)
        {
            _slaTimer?.Dispose();
            _slaTimer = null;
            return;
        }

        var due = deadline - clock.GetUtcNow();
        due = due < TimeSpan.Zero ? TimeSpan.Zero : due > SlaOptions.Longest ? SlaOptions.Longest : due;
        if (_slaTimer is null)
        {
            // Interleaved: while it waits for a device grain, that grain's report of the change can come in.
            _slaTimer = this.RegisterGrainTimer(EscalateDueAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan)
            {
                Interleave = true,
                KeepAlive = true,
            });
        }
        else
        {
            _slaTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WakeReminder)
        {
            return Task.CompletedTask;
        }

        // Activating the grain armed the timer for anything already due; a tick on a live activation changes
        // nothing unless a deadline has passed without the timer firing (it was lost with a silo, or the clock jumped).
        // Escalation itself stays on the timer, which interleaves: this turn does not, and a device grain that must
        // activate to answer an escalation reports its open alerts to this index from its activation, which would
        // wait for this turn while this turn waits for it.
        if (!_escalating && Sla.Due(index.State.Alerts.Values, clock.GetUtcNow()).Any())
        {
            _armedFor = null;
            Arm();
        }

        SyncReminder();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Keeps the wake reminder registered exactly while a deadline is pending. The reminder store is written only when
    /// that changes (or once per activation, to learn what it holds), and never in the turn that changed it: on an
    /// interleaved one-shot timer, so that neither activation nor an upsert waits for the store.
    /// </summary>
    private void SyncReminder(TimeSpan? after = null)
    {
        if (!RemindersAvailable || _syncingReminder || (after is null && _reminderHeld == (NextDeadline() is not null)))
        {
            return;
        }

        var due = after ?? TimeSpan.Zero;
        if (_reminderTimer is null)
        {
            _reminderTimer = this.RegisterGrainTimer(SyncReminderAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan)
            {
                Interleave = true,
            });
        }
        else
        {
            _reminderTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Registers or removes the wake reminder to match the pending deadlines, each store call bounded by
    /// <see cref="ReminderTimeout"/>. A failure is logged and tried again after <see cref="ReminderRetry"/> (not at
    /// the next upsert, which might never come): the timer still runs meanwhile, so only a silo's death before the
    /// store answers would delay a deadline.
    /// </summary>
    private async Task SyncReminderAsync(CancellationToken cancellationToken)
    {
        _syncingReminder = true;
        var wanted = NextDeadline() is not null;
        var failed = false;
        try
        {
            while (_reminderHeld != wanted)
            {
                if (wanted)
                {
                    await this.RegisterOrUpdateReminder(WakeReminder, WakePeriod, WakePeriod, cancellationToken).WaitAsync(ReminderTimeout, cancellationToken);
                }
                else if (await this.GetReminder(WakeReminder, cancellationToken).WaitAsync(ReminderTimeout, cancellationToken) is { } reminder)
                {
                    await this.UnregisterReminder(reminder, cancellationToken).WaitAsync(ReminderTimeout, cancellationToken);
                }

                _reminderHeld = wanted;
                // Deadlines may have come or gone while the store answered.
                wanted = NextDeadline() is not null;
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _reminderHeld = null;
            failed = true;
            LogReminderFailed(logger, e, wanted ? "register" : "unregister", ReminderRetry.TotalSeconds);
        }
        finally
        {
            _syncingReminder = false;
        }

        if (failed)
        {
            SyncReminder(ReminderRetry);
        }
    }

    private async Task EscalateDueAsync(CancellationToken cancellationToken)
    {
        if (_escalating)
        {
            return;
        }

        _escalating = true;
        _armedFor = null;
        _retryNotBefore = null;
        try
        {
            await EscalateRoundAsync();
        }
        catch (Exception e)
        {
            // Not expected (each alert's failure is caught below); whatever it was, the deadlines are tried again.
            LogEscalationFailed(logger, e, "(round)");
            _retryNotBefore = clock.GetUtcNow() + RetryAfter;
        }
        finally
        {
            // Always: a round that ended any other way would leave the one-shot timer unarmed, and the deadlines
            // pending with nothing to act on them until some unrelated upsert came.
            _escalating = false;
            Arm();
            SyncReminder();
        }
    }

    private async Task EscalateRoundAsync()
    {
        var forgotten = false;
        foreach (var alert in Sla.Due(index.State.Alerts.Values, clock.GetUtcNow()).ToList())
        {
            var limit = Sla.For(alert.Severity)!.Value;
            try
            {
                var change = await GrainFactory.GetGrain<IDeviceGrain>(alert.Device).ChangeAlertAsync(alert.Id, AlertState.Escalated, "system",
                    $"No response within the {SlaOptions.Describe(limit)} first-response SLA for {alert.Severity.ToString().ToLowerInvariant()} alerts.");
                if (change.Alert is { } answer && !IsOlder(answer.Summary, index.State.Alerts.GetValueOrDefault(alert.Id) ?? answer.Summary))
                {
                    // The twin's answer is the truth: the fan-out brings the event here too, but perhaps much later
                    // (its lane may be held up by a broker), and until then this alert would look due again.
                    Put(answer.Summary);
                }

                if (change.Outcome == AlertChangeOutcome.Changed)
                {
                    metrics.Escalation(alert.Severity, alert.Code);
                    LogEscalated(logger, alert.Id, alert.Device, alert.Code);
                }
                else if (change.Outcome == AlertChangeOutcome.NotFound && index.State.Alerts.TryGetValue(alert.Id, out var stale))
                {
                    // The device no longer knows it (its state was lost); don't try again for ever.
                    index.State.Alerts[alert.Id] = stale with { State = AlertState.Resolved };
                    forgotten = true;
                }
            }
            catch (Exception e)
            {
                // Any failure, a cancellation included (a storage call the runtime cancelled): the alert stays due
                // and the round goes on with the others.
                LogEscalationFailed(logger, e, alert.Id);
                _retryNotBefore = clock.GetUtcNow() + RetryAfter;
            }
        }

        if (forgotten)
        {
            Saver.Changed();
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Alert {AlertId} ({Code}) of {Device} escalated: SLA missed")]
    private static partial void LogEscalated(ILogger logger, string alertId, string device, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not {Action} the SLA wake reminder; the SLA timer still runs, and the reminder is tried again in {RetrySeconds} s")]
    private static partial void LogReminderFailed(ILogger logger, Exception exception, string action, double retrySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Escalating alert {AlertId} failed; trying again in a minute")]
    private static partial void LogEscalationFailed(ILogger logger, Exception exception, string alertId);
}
