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

    private IGrainTimer? _slaTimer;
    private DateTimeOffset? _armedFor;

    /// <summary>Whether the wake reminder is registered, as far as this activation knows (null: not yet checked).</summary>
    private bool? _reminderHeld;

    /// <summary>An escalation round is running (the timer and the reminder may both start one).</summary>
    private bool _escalating;

    private bool RemindersAvailable => ServiceProvider.GetService<IReminderTable>() is not null;
    private WriteBehind<AlertIndexState>? _writeBehind;

    private WriteBehind<AlertIndexState> Saver => _writeBehind ??= new(this, index, SaveInterval);

    private SlaOptions Sla => options.Value.Sla;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Arm();
        await HoldReminderAsync();
    }

    public async Task UpsertAsync(AlertSummary alert)
    {
        if (index.State.Alerts.TryGetValue(alert.Id, out var known) && known == alert)
        {
            return;
        }

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
        Arm();
        await HoldReminderAsync();
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

    /// <summary>Points the timer at the earliest pending deadline, or stops it when none is pending.</summary>
    private void Arm(DateTimeOffset? retryAt = null)
    {
        var next = retryAt ?? NextDeadline();
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

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WakeReminder)
        {
            return;
        }

        // Activating the grain armed the timer for anything already due; a tick on a live activation changes
        // nothing unless a deadline has passed without the timer firing (it was lost with a silo, or the clock jumped).
        if (!_escalating && Sla.Due(index.State.Alerts.Values, clock.GetUtcNow()).Any())
        {
            await EscalateDueAsync(CancellationToken.None);
        }
        else
        {
            await HoldReminderAsync();
        }
    }

    /// <summary>
    /// Keeps the wake reminder registered exactly while a deadline is pending. The store is written only when that
    /// changes (or once per activation, to learn what it holds). A failure is logged and tried again at the next
    /// change or tick: the timer still runs, so only a silo's death in the meantime would delay a deadline.
    /// </summary>
    private async Task HoldReminderAsync()
    {
        var wanted = NextDeadline() is not null;
        if (_reminderHeld == wanted || !RemindersAvailable)
        {
            return;
        }

        try
        {
            if (wanted)
            {
                await this.RegisterOrUpdateReminder(WakeReminder, WakePeriod, WakePeriod);
            }
            else if (await this.GetReminder(WakeReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminderHeld = wanted;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _reminderHeld = null;
            LogReminderFailed(logger, e, wanted ? "register" : "unregister");
        }
    }

    private async Task EscalateDueAsync(CancellationToken cancellationToken)
    {
        if (_escalating)
        {
            return;
        }

        _escalating = true;
        try
        {
            await EscalateRoundAsync();
        }
        finally
        {
            _escalating = false;
        }

        await HoldReminderAsync();
    }

    private async Task EscalateRoundAsync()
    {
        _armedFor = null;
        DateTimeOffset? retryAt = null;
        var forgotten = false;
        foreach (var alert in Sla.Due(index.State.Alerts.Values, clock.GetUtcNow()).ToList())
        {
            var limit = Sla.For(alert.Severity)!.Value;
            try
            {
                var change = await GrainFactory.GetGrain<IDeviceGrain>(alert.Device).ChangeAlertAsync(alert.Id, AlertState.Escalated, "system",
                    $"No response within the {SlaOptions.Describe(limit)} first-response SLA for {alert.Severity.ToString().ToLowerInvariant()} alerts.");
                if (change.Outcome == AlertChangeOutcome.Changed)
                {
                    metrics.Escalation(alert.Severity);
                    LogEscalated(logger, alert.Id, alert.Device, alert.Code);
                }
                else if (change.Outcome == AlertChangeOutcome.NotFound && index.State.Alerts.TryGetValue(alert.Id, out var stale))
                {
                    // The device no longer knows it (its state was lost); don't try again for ever.
                    index.State.Alerts[alert.Id] = stale with { State = AlertState.Resolved };
                    forgotten = true;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogEscalationFailed(logger, e, alert.Id);
                retryAt = clock.GetUtcNow() + RetryAfter;
            }
        }

        if (forgotten)
        {
            Saver.Changed();
        }

        Arm(retryAt);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert {AlertId} ({Code}) of {Device} escalated: SLA missed")]
    private static partial void LogEscalated(ILogger logger, string alertId, string device, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not {Action} the SLA wake reminder; the SLA timer still runs, and the reminder is tried again at the next change")]
    private static partial void LogReminderFailed(ILogger logger, Exception exception, string action);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Escalating alert {AlertId} failed; trying again in a minute")]
    private static partial void LogEscalationFailed(ILogger logger, Exception exception, string alertId);
}
