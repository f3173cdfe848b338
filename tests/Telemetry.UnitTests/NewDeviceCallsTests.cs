using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// A fleet coming back: each device new to the pipeline costs one grain call, not a profile call and then its batch.
/// A device's first round that holds only its birth asks for the profile with the batch; one whose first round holds
/// telemetry still asks first, because its stored readings are tagged with the twin's birth.
/// </summary>
public sealed class NewDeviceCallsTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1795428000000 + 60_000);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly Channel<InboundMessage> _channel = Channel.CreateUnbounded<InboundMessage>();
    private readonly Twins _twins = new();
    private readonly RecordingReplies _replies = new();
    private readonly LineStore _store = new();

    private PartitionWorker Worker(UplinkOptions? uplink = null, bool shared = false, TimeProvider? time = null) => new(
        _channel.Reader, _twins, _replies, _store,
        new IngestCounters(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>()),
        uplink ?? new UplinkOptions(), new PipelineOptions { Partitions = 1, SharedSubscription = shared }, time ?? _time, NullLogger.Instance);

    private static InboundMessage Message(string device, UplinkTopic topic, string json) =>
        InboundMessage.Copy(device, topic, new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), null);

    private static InboundMessage Birth(string device) => Message(device, UplinkTopic.Birth,
        """{"v":1,"kind":"shoe","model":"aerorun-3","batch":"2025w28-sz2","firmware":"1.4.2","manufactured":"2025-07-14"}""");

    private static InboundMessage Telemetry(string device, uint seq) => Message(device, UplinkTopic.Telemetry,
        $$$"""{"v":1,"boot":"b1","seq":{{{seq}}},"readings":[{"ts":1795428000000,"m":{"distance_m":{{{seq + 1}}},"my_metric":1}}]}""");

    [Fact]
    public async Task DevicesComingBackWithTheirBirth_CostOneGrainCallEach_AndTheirTelemetryIsTaggedWithIt()
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker().RunAsync(stop.Token));

        for (var i = 0; i < 50; i++)
        {
            await _channel.Writer.WriteAsync(Birth($"back-{i}"));
        }

        await Until.DoneAsync(() => _twins.Batches.Count == 50, "50 birth batches");
        Assert.Equal(0, _twins.ProfileCalls);
        Assert.All(_twins.Batches, b => Assert.True(b.Batch.WantsProfile, "a device new to the pipeline asks for its profile with its batch"));

        // The same birth again (retained, redelivered) is known now and costs nothing; telemetry needs no lookup.
        for (var i = 0; i < 50; i++)
        {
            await _channel.Writer.WriteAsync(Birth($"back-{i}"));
            await _channel.Writer.WriteAsync(Telemetry($"back-{i}", 0));
        }

        await Until.DoneAsync(() => _replies.Acks.Count == 50, "50 acks");
        Assert.Equal(0, _twins.ProfileCalls);
        Assert.Equal(100, _twins.Batches.Count);
        Assert.All(_twins.Batches.Skip(50), b => Assert.False(b.Batch.WantsProfile));
        Assert.All(_twins.Batches.Skip(50), b => Assert.Null(b.Batch.Birth));
        Assert.Equal(50, _store.Lines.Count(l => l.Contains("model=aerorun-3", StringComparison.Ordinal)));

        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task ADeviceWhoseFirstMessageIsTelemetry_IsLookedUpFirst_AndItsReadingsCarryTheTwinsBirth()
    {
        _twins.Stored["known-1"] = new DeviceBirth { Kind = "shoe", Model = "stored-model", Batch = "2025w01", Firmware = "1", Manufactured = new DateOnly(2025, 1, 1) };
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker().RunAsync(stop.Token));

        await _channel.Writer.WriteAsync(Telemetry("known-1", 0));

        await Until.DoneAsync(() => _replies.Acks.Count == 1, "the ack");
        Assert.Equal(1, _twins.ProfileCalls);
        Assert.False(Assert.Single(_twins.Batches).Batch.WantsProfile);
        Assert.Contains("model=stored-model", Assert.Single(_store.Lines), StringComparison.Ordinal);

        await stop.CancelAsync();
        await run;
    }

    /// <summary>Found in review: a held birth was charged to the device's birth budget again at every retry, so a twin
    /// store down for a minute used the budget up and the birth was then refused as <c>rate_limited</c>.</summary>
    [Fact]
    public async Task ABirthHeldWhileTheTwinsAreDown_IsNotChargedAgainAtEachRetry()
    {
        _twins.Failing = true;
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker(new UplinkOptions { BirthRateLimitBurst = 1, BirthRateLimitPerHour = 1 }).RunAsync(stop.Token));
        await _channel.Writer.WriteAsync(Birth("held-1"));

        // A minute of fake time is a dozen retries of the held round, each failing.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (_twins.Attempts < 12)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {_twins.Attempts} attempts");
            _time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.Delay(2);
        }

        _twins.Failing = false;
        while (_twins.Batches.IsEmpty)
        {
            Assert.True(DateTime.UtcNow < deadline, "the birth never reached its twin");
            _time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.Delay(2);
        }

        Assert.Equal("aerorun-3", Assert.Single(_twins.Batches).Batch.Birth!.Model);
        Assert.Empty(_replies.Errors);
        await stop.CancelAsync();
        await run;
    }

    /// <summary>
    /// Issue #13: in a cluster a device's birth and its telemetry may go to two instances. This instance learned the
    /// twin before the other had applied the birth, so it stored the first readings untagged; the twin then answers a
    /// batch tagged otherwise with its profile, and the following readings carry the model and batch. Before, the
    /// instance stored the device's readings untagged for as long as it ran.
    /// </summary>
    [Fact]
    public async Task ABirthAppliedByAnotherInstance_ReachesTheTagsOfTheNextRound()
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker().RunAsync(stop.Token));
        await _channel.Writer.WriteAsync(Telemetry("moved-1", 0));
        await Until.DoneAsync(() => _replies.Acks.Count == 1, "the ack of seq 0");

        var birth = new DeviceBirth { Kind = "shoe", Model = "elsewhere-model", Batch = "2025w30", Firmware = "1" };
        _twins.Stored["moved-1"] = birth;
        await _channel.Writer.WriteAsync(Telemetry("moved-1", 1));
        await Until.DoneAsync(() => _replies.Acks.Count == 2, "the ack of seq 1");
        await _channel.Writer.WriteAsync(Telemetry("moved-1", 2));
        await Until.DoneAsync(() => _replies.Acks.Count == 3, "the ack of seq 2");

        Assert.Equal([0, 0, DeviceBirth.TagStamp(birth)], _twins.Batches.Select(b => b.Batch.TaggedWith));
        Assert.Equal([false, false, true], _store.Lines.Select(l => l.Contains("model=elsewhere-model,batch=2025w30", StringComparison.Ordinal)));
        Assert.Equal(1, _twins.ProfileCalls);

        await stop.CancelAsync();
        await run;
    }

    /// <summary>
    /// With a shared subscription the birth a device sent just before its telemetry may be on another instance, not yet
    /// applied: the telemetry waits for it (Pipeline:BirthWait), unacknowledged, and is stored tagged once the twin has it.
    /// Stored untagged at once, a resend of it would have been stored a second time, tagged.
    /// </summary>
    [Fact]
    public async Task InASharedGroup_TelemetryWaitsForTheBirthAnotherInstanceIsApplying_AndIsStoredTagged()
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker(shared: true).RunAsync(stop.Token));
        await _channel.Writer.WriteAsync(Telemetry("early-1", 0));
        await Until.DoneAsync(() => _twins.ProfileCalls >= 2 && _twins.Batches.IsEmpty, "the telemetry held and the twin asked again", advance: _time);
        Assert.Empty(_store.Lines);
        Assert.Empty(_replies.Acks);

        _twins.Stored["early-1"] = new DeviceBirth { Kind = "shoe", Model = "aerorun-3", Batch = "2025w28-sz2", Firmware = "1" };
        await Until.DoneAsync(() => _replies.Acks.Count == 1, "the ack once the birth is there", advance: _time);

        Assert.Contains("model=aerorun-3,batch=2025w28-sz2", Assert.Single(_store.Lines), StringComparison.Ordinal);
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task InASharedGroup_ABirthThatNeverComes_IsWaitedForOnlyBirthWait_ThenTheReadingsAreStoredUntagged()
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker(shared: true).RunAsync(stop.Token));
        await _channel.Writer.WriteAsync(Telemetry("never-1", 0));

        await Until.DoneAsync(() => _replies.Acks.Count == 1, "the ack after the wait", advance: _time);

        Assert.True(_time.GetUtcNow() - Start >= new PipelineOptions().BirthWait, $"acked after {_time.GetUtcNow() - Start}");
        Assert.DoesNotContain("model=", Assert.Single(_store.Lines), StringComparison.Ordinal);
        // Waited for once: the device's later telemetry is not held again.
        var acked = _time.GetUtcNow();
        await _channel.Writer.WriteAsync(Telemetry("never-1", 1));
        await Until.DoneAsync(() => _replies.Acks.Count == 2, "the ack of seq 1");
        Assert.Equal(acked, _time.GetUtcNow());
        await stop.CancelAsync();
        await run;
    }

    /// <summary>
    /// Review of b8080b5: the birth wait was measured on the wall clock, so a clock stepped forward (NTP correcting it,
    /// a VM resumed) ended it at the next retry, and the readings were stored untagged while their birth was on its way.
    /// </summary>
    [Fact]
    public async Task InASharedGroup_TheBirthWait_IsNotEndedByTheWallClockSteppingForward()
    {
        var clock = new SteppedClock(_time);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker(shared: true, time: clock).RunAsync(stop.Token));
        await _channel.Writer.WriteAsync(Telemetry("stepped-1", 0));
        await Until.DoneAsync(() => _twins.ProfileCalls >= 2 && _twins.Batches.IsEmpty, "the telemetry held and the twin asked again", advance: _time);

        clock.Step = TimeSpan.FromHours(1);
        var asked = _twins.ProfileCalls;
        // Two more rounds held: stored at the first retry after the step, the device would not be asked again.
        await Until.DoneAsync(() => _twins.ProfileCalls >= asked + 2, "two more rounds held after the clock stepped", advance: _time);
        Assert.Empty(_replies.Acks);
        Assert.True(_time.GetUtcNow() - Start < new PipelineOptions().BirthWait, $"still held after {_time.GetUtcNow() - Start}");

        _twins.Stored["stepped-1"] = new DeviceBirth { Kind = "shoe", Model = "aerorun-3", Batch = "2025w28-sz2", Firmware = "1" };
        await Until.DoneAsync(() => _replies.Acks.Count == 1, "the ack once the birth is there", advance: _time);
        Assert.Contains("model=aerorun-3,batch=2025w28-sz2", Assert.Single(_store.Lines), StringComparison.Ordinal);
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Alone_TelemetryWithoutABirth_IsNotHeld()
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => Worker().RunAsync(stop.Token));
        await _channel.Writer.WriteAsync(Telemetry("alone-1", 0));

        await Until.DoneAsync(() => _replies.Acks.Count == 1, "the ack");

        Assert.Equal(Start, _time.GetUtcNow());
        Assert.Equal(1, _twins.ProfileCalls);
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public void TheTagStamp_IsTheSameInEveryProcess_AndFollowsOnlyWhatTagsReadings()
    {
        var birth = new DeviceBirth { Kind = "shoe", Model = "aerorun-3", Batch = "2025w28-sz2", Firmware = "1.4.2" };

        // A constant: string.GetHashCode would differ from process to process, and two instances would never agree.
        Assert.Equal(548497459, DeviceBirth.TagStamp(birth));
        Assert.Equal(0, DeviceBirth.TagStamp(null));
        Assert.Equal(DeviceBirth.TagStamp(birth), DeviceBirth.TagStamp(birth with { Firmware = "2.0.0", WearerKg = 70 }));
        Assert.NotEqual(DeviceBirth.TagStamp(birth), DeviceBirth.TagStamp(birth with { Batch = "2025w29-sz2" }));
        Assert.NotEqual(DeviceBirth.TagStamp(birth), DeviceBirth.TagStamp(birth with { Unregistered = true }));
        Assert.Equal(DeviceBirth.TagStamp(birth with { Unregistered = true }), DeviceBirth.TagStamp(birth with { Unregistered = true, Model = "rogue" }));
        Assert.False(new TelemetryBatch { Messages = [], Readings = [], Metrics = [], TaggedWith = DeviceBirth.TagStamp(birth) }.NeedsProfile(birth));
        Assert.True(new TelemetryBatch { Messages = [], Readings = [], Metrics = [] }.NeedsProfile(birth));
    }

    /// <summary>The fake clock's wall time moved by <see cref="Step"/>, as NTP or a resumed VM sets a clock; its timestamps
    /// and timers are the fake clock's, which a step does not move (as the system's monotonic clock).</summary>
    private sealed class SteppedClock(FakeTimeProvider inner) : TimeProvider
    {
        private long _stepTicks;

        public TimeSpan Step
        {
            get => TimeSpan.FromTicks(Volatile.Read(ref _stepTicks));
            set => Volatile.Write(ref _stepTicks, value.Ticks);
        }

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() + Step;

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            inner.CreateTimer(callback, state, dueTime, period);
    }

    /// <summary>Twins that keep the birth they were given and answer with the profile when asked.</summary>
    private sealed class Twins : IDeviceTwins
    {
        private int _profileCalls;
        private int _attempts;

        private volatile bool _failing;

        public bool Failing
        {
            get => _failing;
            set => _failing = value;
        }

        public int Attempts => _attempts;

        public ConcurrentDictionary<string, DeviceBirth> Stored { get; } = new(StringComparer.Ordinal);

        public ConcurrentQueue<(string Device, TelemetryBatch Batch)> Batches { get; } = new();

        public int ProfileCalls => _profileCalls;

        public Task<IngestProfile> GetIngestProfileAsync(string deviceId)
        {
            Interlocked.Increment(ref _profileCalls);
            return Task.FromResult(new IngestProfile(Stored.GetValueOrDefault(deviceId), []));
        }

        public Task<IngestResult> IngestAsync(string deviceId, TelemetryBatch batch)
        {
            Interlocked.Increment(ref _attempts);
            if (Failing)
            {
                return Task.FromException<IngestResult>(new TimeoutException("twin store down"));
            }

            Batches.Enqueue((deviceId, batch));
            if (batch.Birth is { } birth)
            {
                Stored[deviceId] = birth;
            }

            return Task.FromResult(new IngestResult([.. batch.Messages.Select(m => m.Key)], 0)
            {
                Profile = batch.NeedsProfile(Stored.GetValueOrDefault(deviceId)) ? new IngestProfile(Stored.GetValueOrDefault(deviceId), []) : null,
            });
        }
    }

    private sealed class LineStore : IReadingStore
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public List<string> Lines => [.. _lines];

        public ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken)
        {
            foreach (var line in Encoding.UTF8.GetString(lines.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                _lines.Enqueue(line);
            }

            return ValueTask.FromResult(true);
        }
    }
}
