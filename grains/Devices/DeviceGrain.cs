using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Ingest;
using Telemetry.Models.Wear;

namespace Telemetry.Grains.Devices;

/// <summary>
/// The device twin. One call per device per pipeline round; the grain is not reentrant, so rounds apply in
/// order. It dedupes authoritatively (the pipeline's cache is only an optimisation and is lost on restart),
/// updates totals and wear, moves alerts along their ladders, and persists once per round together with the
/// events the round produced (its outbox); only then are they delivered, so no event describes a state that
/// was not stored, and none is lost when delivery fails or the process dies: undelivered events stay in the twin
/// until they get through. Alert events are handed to <see cref="AlertFanOut"/>, which delivers them outside the
/// grain's turn and confirms, so a round never waits for a broker; failure reports to the quality view are grain calls
/// retried on a grain timer with capped backoff. Both start again at the next activation. Delivery is therefore at
/// least once; every event carries a stable <see cref="AlertEvent.EventId"/>.
/// What a round means for the device is worked out by plain classes that know nothing of Orleans, each of which can
/// be tested on a <see cref="DeviceState"/> alone: <see cref="WearAssessor"/> (usage and wear), <see cref="FaultRaiser"/>
/// (sudden faults), <see cref="AlertStepper"/> (alert ladders and after-sales transitions), <see cref="EvidenceBuilder"/>
/// and <see cref="PartReplacement"/>; the grain orders their calls, stores the result and delivers its events.
/// </summary>
[GrainType("device")]
internal sealed partial class DeviceGrain(
    [PersistentState("device", DeviceGrain.StorageName)] IPersistentState<DeviceState> twin,
    IWearModel wearModel,
    OwnRulModels ownRul,
    AlertFanOut fanOut,
    IOptions<DedupeOptions> dedupeOptions,
    IOptions<AlertsOptions> alertsOptions,
    TimeProvider timeProvider,
    ResidentTwins residents,
    Quality.ExposureCollector exposures,
    TwinCounters counters,
    ILogger<DeviceGrain> logger) : Grain, IDeviceGrain
{
    public const string StorageName = "devices";

    /// <summary>First retry of an undelivered event; each failure doubles it up to <see cref="RetryCap"/>.</summary>
    internal static readonly TimeSpan RetryFirst = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest wait between retries: a consumer that was down for hours hears within minutes of its return.</summary>
    internal static readonly TimeSpan RetryCap = TimeSpan.FromMinutes(5);

    private static readonly DeactivationReason ShedReason = new(DeactivationReasonCode.HighMemoryPressure,
        "More twins resident than Twins:MaxResidentTwins; the least recently used are read back from the store when next needed.");

    private IGrainTimer? _retryTimer;
    private int _failedDeliveries;

    /// <summary>This activation in the silo's count of resident twins (<c>Twins:MaxResidentTwins</c>).</summary>
    private ResidentTwin? _resident;

    /// <summary>Delivered events were removed from the outbox in memory but not yet in storage: the next write
    /// (or deactivation) saves that, and until then a crash only delivers them again.</summary>
    private bool _outboxUnsaved;

    /// <summary>A write failed: this activation's state differs from storage and is being discarded.</summary>
    private bool _stale;

    /// <summary>This device may be listed with the pending-outbox grain: leave it once the outbox is empty, so the
    /// list (and the twins woken at start-up) holds only devices that really owe events.</summary>
    private bool _listed;

    /// <summary>The number of the newest outbox event handed to the fan-out by this activation: those after it are
    /// handed over at the end of the round that stored them; those up to it wait for the fan-out's confirmation.</summary>
    private long _handedUpTo;

    /// <summary>Names this activation's handovers to the fan-out (<see cref="OwnsHandoverAsync"/>).</summary>
    private readonly Guid _handover = Guid.NewGuid();

    private DeviceState State => twin.State;

    private string DeviceId => this.GetPrimaryKeyString();

    /// <summary>The twin's alerts, for one call: made when needed, so a resident twin holds nothing for them.</summary>
    private AlertStepper Alerts() => new(DeviceId, State, alertsOptions.Value.NormalizedDefaultLocale);

    /// <summary>Reports the open alerts to the alert index again: it is written behind and may have lost the
    /// last second of changes in a crash (an unchanged summary costs it nothing).</summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _resident = residents.Add(GrainContext, static context => ((IGrainContext)context).Deactivate(ShedReason, CancellationToken.None));
        if (State.Birth is { } birth)
        {
            // Read back from the store with its own copies of the model and batch names.
            State.Birth = birth.WithSharedStrings();
        }

        // Enumerating the pairs, not .Values: the dictionary would keep the values view for the twin's lifetime.
        if (State.HasOpenAlerts)
        {
            var alerts = Alerts();
            foreach (var (_, open) in State.OpenAlerts)
            {
                await GrainFactory.GetGrain<IAlertIndexGrain>(0).UpsertAsync(alerts.View(open).Summary);
            }
        }

        if (!State.Outbox.IsEmpty)
        {
            // Stored but never delivered: the process died after the write, or delivery kept failing. Alert events go
            // to the fan-out now, not on a timer's turn, which is dropped if this activation is shed before it comes.
            _listed = true;
            HandOverAlerts(logged: true);
            ScheduleRetry(TimeSpan.Zero);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_resident is { } resident)
        {
            residents.Remove(resident);
        }

        if (_outboxUnsaved)
        {
            try
            {
                await twin.WriteStateAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Harmless: the stored outbox still holds delivered events, which are delivered again (same ids).
                LogOutboxSaveFailed(logger, e, DeviceId);
            }
        }

        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    public async Task<bool> DeliverPendingAsync()
    {
        // Asked by the pending-outbox grain, so listed whatever this activation knows.
        _listed = true;
        return await DeliverAndSettleAsync();
    }

    /// <summary><see cref="DeliverAsync"/>, then, with nothing left, leaves the pending-outbox list and saves the
    /// emptied outbox. Never throws.</summary>
    private async Task<bool> DeliverAndSettleAsync()
    {
        if (!await DeliverAsync() || !State.Outbox.IsEmpty || !_listed)
        {
            return State.Outbox.IsEmpty;
        }

        try
        {
            await GrainFactory.GetGrain<IPendingOutboxGrain>(0).RemoveAsync(this.GetGrainId());
            _listed = false;
        }
        catch (Exception e)
        {
            // Harmless: at the next start-up this twin is woken, finds nothing to deliver, and leaves the list then.
            LogUnlistFailed(logger, e, DeviceId);
        }

        return true;
    }

    public async Task<IngestResult> IngestAsync(TelemetryBatch batch)
    {
        if (_resident is { } resident)
        {
            residents.Touch(resident);
        }

        if (batch.Messages.Length == 0 && (batch.Birth is null || batch.Birth == State.Birth))
        {
            // The birth the twin already holds (a retained birth delivered again, a device new to the pipeline
            // reconnecting): nothing changes, nothing is written.
            return new IngestResult([], 0) { Profile = batch.NeedsProfile(State.Birth) ? Profile() : null };
        }

        var now = timeProvider.GetUtcNow();
        State.FirstSeen ??= now;
        State.LastSeen = now;

        var events = new List<AlertEvent>();
        var alerts = Alerts();
        if (batch.Birth is { } birth && birth != State.Birth)
        {
            foreach (var part in PartReplacement.ApplyBirth(State, alerts, birth, now, events))
            {
                LogReplaced(logger, DeviceId, part, "device");
            }
        }

        var duplicates = 0;
        var unseenDuplicates = 0;
        _roundChargeCountsIgnored = 0;
        var boots = new List<string>(1);
        List<MessageKey>? refused = null;
        var dedupe = dedupeOptions.Value;
        foreach (var message in batch.Messages)
        {
            if (!boots.Contains(message.Key.Boot))
            {
                boots.Add(message.Key.Boot);
            }

            var outcome = State.Progress.Record(message.Key, now, dedupe);
            if (outcome == SeqOutcome.Refused)
            {
                (refused ??= []).Add(message.Key);
                continue;
            }

            if (outcome == SeqOutcome.Duplicate)
            {
                duplicates++;
                unseenDuplicates += message.Known ? 0 : 1;
                continue;
            }

            State.Messages++;
            State.RejectedReadings += message.RejectedReadings;
            for (var r = message.FirstReading; r < message.FirstReading + message.ReadingCount; r++)
            {
                ApplyReading(batch.Readings[r], batch.Metrics);
            }
        }

        State.DuplicateMessages += duplicates;

        if (WearAssessor.Assess(State, wearModel, now, ownRul.For(State.Birth?.Kind)) is { } wear)
        {
            alerts.Climb(wear, now, events);
        }

        _faults?.Raise(State, alerts, now, events);
        var exposure = QualityRound();
        await StoreAsync(events);
        counters.CountChargeCountsIgnored(_roundChargeCountsIgnored);

        await DeliverAndSettleAsync();
        ReportExposure(exposure);

        var acks = new List<MessageKey>(boots.Count);
        Dictionary<string, SeqRange[]>? missing = null;
        foreach (var boot in boots)
        {
            if (State.Progress.AckFor(boot) is { } ack)
            {
                acks.Add(ack);
                if (State.Progress.MissingFor(boot, dedupe.MissingInAck) is { Length: > 0 } gaps)
                {
                    (missing ??= new(StringComparer.Ordinal))[boot] = gaps;
                }
            }
        }

        return new IngestResult([.. acks], duplicates)
        {
            Missing = missing,
            Refused = refused?.ToArray(),
            Profile = batch.NeedsProfile(State.Birth) ? Profile() : null,
            UnseenDuplicates = unseenDuplicates,
        };
    }

    /// <summary>
    /// Puts the round's events into the outbox and writes the twin: the state change and the events that describe
    /// it are stored together or not at all. A device with nothing pending registers with the pending-outbox grain
    /// first, so that a crash after the write still finds it.
    /// </summary>
    private async Task StoreAsync(List<AlertEvent> events)
    {
        var outbox = State.Outbox;
        var wasEmpty = outbox.IsEmpty;
        if (events.Count > 0 && outbox.Incarnation == Guid.Empty)
        {
            outbox.Incarnation = Guid.NewGuid();
        }

        foreach (var alert in events)
        {
            outbox.EventCount++;
            outbox.Alerts.Add(alert with { EventId = FormattableString.Invariant($"{alert.Id}:{outbox.EventCount}") });
        }

        if (_roundFailures is { } failures)
        {
            outbox.Failures.AddRange(failures);
            _roundFailures = null;
        }

        try
        {
            if (wasEmpty && !outbox.IsEmpty)
            {
                await GrainFactory.GetGrain<IPendingOutboxGrain>(0).AddAsync(this.GetGrainId());
                _listed = true;
            }

            await twin.WriteStateAsync();
            _outboxUnsaved = false;
        }
        catch
        {
            // The batch is not acknowledged and will come again; start from the stored state, not from
            // in-memory changes that were never saved, so the repeat is applied rather than seen as a duplicate.
            // Nothing of this activation may be written any more, not even at deactivation.
            _stale = true;
            _outboxUnsaved = false;
            _retryTimer?.Dispose();
            DeactivateOnIdle();
            throw;
        }
    }

    /// <summary>
    /// Delivers the outbox: hands alert events to the fan-out (which delivers them outside this turn and confirms),
    /// then reports failures to the quality view in order, stopping at the first that fails, keeping it and everything
    /// after it, and scheduling a retry. True when nothing is left. Never throws: the round it follows is stored and
    /// its acks are due whatever happens here.
    /// </summary>
    private async Task<bool> DeliverAsync()
    {
        var outbox = State.Outbox;
        if (_stale)
        {
            return false;
        }

        HandOverAlerts();
        try
        {
            while (!outbox.IsEmpty && outbox.Failures.Count > 0)
            {
                var failure = outbox.Failures[0];
                // The batch grain counts one failure per device and mode, so a report sent again is not counted twice.
                await Quality.QualityGrains.Batch(GrainFactory, failure.Model, failure.Batch).ReportFailureAsync(failure);
                outbox.Failures.RemoveAt(0);
                _outboxUnsaved = true;
            }
        }
        catch (Exception e)
        {
            _failedDeliveries++;
            var delay = RetryDelay(_failedDeliveries);
            LogDeliveryFailed(logger, e, DeviceId, outbox.Alerts.Count + outbox.Failures.Count, delay);
            ScheduleRetry(delay);
            return false;
        }

        outbox.Trim();
        _failedDeliveries = 0;
        _retryTimer?.Dispose();
        _retryTimer = null;
        return outbox.IsEmpty;
    }

    /// <summary>Hands the outbox's alert events that this activation has not handed over yet to the fan-out, which
    /// delivers them outside this turn and confirms (<see cref="ConfirmDeliveredAsync"/>).</summary>
    /// <param name="logged">The events were logged when they were made (by an earlier activation).</param>
    private void HandOverAlerts(bool logged = false)
    {
        var outbox = State.Outbox;
        if (!outbox.HasAlerts)
        {
            return;
        }

        var alerts = outbox.Alerts;
        var first = alerts.FindIndex(a => AlertFanOut.NumberOf(a) > _handedUpTo);
        if (first < 0)
        {
            return;
        }

        var stepper = Alerts();
        var handovers = new AlertHandover[alerts.Count - first];
        for (var i = 0; i < handovers.Length; i++)
        {
            var alert = alerts[first + i];
            if (!logged)
            {
                LogAlert(logger, alert.Device, alert.Code, alert.State);
            }

            handovers[i] = new AlertHandover(alert, stepper.Summary(alert), AlertFanOut.NumberOf(alert));
        }

        if (fanOut.Hand(DeviceId, _handover, outbox.Incarnation, handovers))
        {
            _handedUpTo = handovers[^1].Number;
        }
    }

    public Task<bool> OwnsHandoverAsync(Guid handover) => Task.FromResult(handover == _handover && !_stale);

    public async Task ConfirmDeliveredAsync(Guid incarnation, long upTo)
    {
        var outbox = State.Outbox;
        if (_stale || !outbox.HasAlerts || incarnation != outbox.Incarnation)
        {
            return;
        }

        var alerts = outbox.Alerts;
        var delivered = 0;
        while (delivered < alerts.Count && AlertFanOut.NumberOf(alerts[delivered]) <= upTo)
        {
            delivered++;
        }

        if (delivered == 0)
        {
            return;
        }

        // Saved with the next round's write or at deactivation; a crash before that only delivers them again.
        alerts.RemoveRange(0, delivered);
        _outboxUnsaved = true;
        outbox.Trim();
        if (outbox.IsEmpty)
        {
            await DeliverAndSettleAsync();
        }
    }

    /// <summary>Capped exponential backoff: 0.5 s, 1 s, 2 s, … 5 min.</summary>
    internal static TimeSpan RetryDelay(int failures) =>
        TimeSpan.FromTicks(Math.Min(RetryCap.Ticks, RetryFirst.Ticks << Math.Min(failures - 1, 20)));

    private void ScheduleRetry(TimeSpan delay)
    {
        _retryTimer?.Dispose();
        // A one-shot timer, set again after each failure; timers do not interleave with calls, so the outbox is
        // only ever touched by one turn at a time.
        _retryTimer = this.RegisterGrainTimer(
            async _ =>
            {
                if (await DeliverAndSettleAsync())
                {
                    await SaveDeliveredAsync();
                }
            },
            new GrainTimerCreationOptions(delay, Timeout.InfiniteTimeSpan));
    }

    /// <summary>After a retry emptied the outbox no round may come soon (the device may be idle): save the removal
    /// now rather than at deactivation, so a crash does not deliver them all again.</summary>
    private async Task SaveDeliveredAsync()
    {
        if (!_outboxUnsaved || _stale)
        {
            return;
        }

        try
        {
            await twin.WriteStateAsync();
            _outboxUnsaved = false;
        }
        catch (Exception e)
        {
            LogOutboxSaveFailed(logger, e, DeviceId);
        }
    }

    public Task<DeviceSnapshot?> GetSnapshotAsync()
    {
        if (State.FirstSeen is null)
        {
            return Task.FromResult<DeviceSnapshot?>(null);
        }

        return Task.FromResult<DeviceSnapshot?>(new DeviceSnapshot
        {
            Id = DeviceId,
            Birth = State.Birth,
            FirstSeen = State.FirstSeen,
            LastSeen = State.LastSeen,
            LastReadingAt = State.LastReadingMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null,
            Totals = new DeviceTotals
            {
                DistanceKm = State.DistanceM / 1000,
                ActiveHours = State.DurationS / 3600,
                Steps = State.Steps,
                ChargeCycles = State.ChargeCycles,
                Messages = State.Messages,
                Readings = State.Readings,
                RejectedReadings = State.RejectedReadings,
                DuplicateMessages = State.DuplicateMessages,
            },
            Wear = State.Wear,
            OpenAlerts = [.. State.OpenAlerts.Select(p => p.Value).OrderBy(a => a.RaisedAt).Select(a => new OpenAlert(a.Id, a.Code, a.Severity, a.RaisedAt, a.Message) { State = a.State, UpdatedAt = a.UpdatedAt, Locale = a.Locale })],
            LastValues = State.LastValuesByName(),
            Acked = State.Progress.Acks(),
        });
    }

    public Task<IngestProfile> GetIngestProfileAsync() => Task.FromResult(Profile());

    private IngestProfile Profile()
    {
        var lastValues = State.LastValues;
        var names = new string[lastValues.Length];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = lastValues[i].Name;
        }

        return new(State.Birth, names);
    }

    public Task<AlertView?> GetAlertAsync(string alertId)
    {
        var alerts = Alerts();
        return Task.FromResult(alerts.Find(alertId) is { } alert ? alerts.View(alert) : null);
    }

    public async Task<AlertChange> ChangeAlertAsync(string alertId, AlertState target, string actor, string? note)
    {
        var events = new List<AlertEvent>(1);
        var change = Alerts().Change(alertId, target, actor, note, timeProvider.GetUtcNow(), events);
        if (change.Outcome == AlertChangeOutcome.Changed)
        {
            await StoreAsync(events);
            await DeliverAndSettleAsync();
        }

        return change;
    }

    public async Task<string[]?> PartReplacedAsync(string part, string actor, string? note)
    {
        if (State.FirstSeen is null)
        {
            return null;
        }

        var events = new List<AlertEvent>();
        PartReplacement.Replace(State, Alerts(), part, timeProvider.GetUtcNow(), actor, note, events);
        LogReplaced(logger, DeviceId, part, actor);
        await StoreAsync(events);
        await DeliverAndSettleAsync();
        return [.. events.Select(e => e.Id)];
    }

    /// <summary>
    /// What this round tells the quality view: failure reports for the faults it raised go into the outbox (stored
    /// with the round, delivered at least once); the exposure report is returned to be sent after the write.
    /// </summary>
    private Quality.ExposureReport? QualityRound()
    {
        // Handed over, not copied: the next round starts its own, and an idle twin holds none.
        var kmByDay = _roundKmByDay;
        _roundKmByDay = null;
        var failures = _faults?.TakeNewFailures() ?? [];
        _faults = null;
        // A birth outside the model and batch registry counts in no defect rate: a rogue device must not move a
        // real batch's statistics, nor create quality grains for batches that do not exist.
        if (State.Birth is not { Unregistered: false } birth || State.FirstReadingMs is not { } first || State.LastReadingMs is not { } last)
        {
            return null;
        }

        foreach (var (mode, at) in failures)
        {
            (_roundFailures ??= []).Add(new Quality.FailureReport(DeviceId, birth.Model, birth.Batch, mode, at, "alert"));
        }

        return new Quality.ExposureReport(DeviceId, birth.Kind, birth.Model, birth.Batch, first, last, kmByDay);
    }

    /// <summary>
    /// Exposure stays a best-effort report: it is additive (kilometres), so sending it again would count twice, and
    /// the batch grain saves it behind anyway (losing at most its save interval in a crash, by design). The silo's
    /// collector merges it with the other devices' and hands it over about once a second.
    /// </summary>
    private void ReportExposure(Quality.ExposureReport? exposure)
    {
        if (exposure is not null)
        {
            exposures.Add(exposure);
        }
    }

    // The round's scratch below is created when a round needs it and dropped when the round is done: with a
    // hundred thousand resident twins, four empty collections each cost about 30 MB (docs/performance.md).

    /// <summary>Faults the detector found in this round, raised once its readings are in and then reported to
    /// the quality view.</summary>
    private FaultRaiser? _faults;

    /// <summary>Charge counts this round did not apply, counted once the round is stored (a round that fails to store is applied again).</summary>
    private int _roundChargeCountsIgnored;

    /// <summary>Kilometres of this round per day (Unix days), for the quality view's exposure report.</summary>
    private Dictionary<int, double>? _roundKmByDay;

    /// <summary>Failure reports of this round, moved into the outbox with the round's write.</summary>
    private List<Quality.FailureReport>? _roundFailures;

    private void ApplyReading(in ReadingRecord reading, MetricValue[] metrics)
    {
        var signals = WearAssessor.ApplyReading(State, reading, metrics, ref _roundKmByDay, ownRul.For(State.Birth?.Kind));
        if (signals.ChargeCountIgnored)
        {
            _roundChargeCountsIgnored++;
        }
        if (FaultRaiser.Detect(State, signals) is { } finding)
        {
            (_faults ??= new()).Found(finding, reading.TimestampMs);
        }
    }
}
