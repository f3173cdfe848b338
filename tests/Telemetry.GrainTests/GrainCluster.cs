using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans;
using Orleans.Hosting;
using Orleans.Reminders;
using Orleans.Runtime;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.TestingHost;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Hosting;
using Telemetry.Grains.Ingest;
using Telemetry.Grains.Quality;
using Xunit;

namespace Telemetry.GrainTests;

/// <summary>
/// Two silos in this process with the grain layer as the service registers it (<see cref="TelemetryGrainsExtensions.AddTelemetryGrains"/>),
/// a grain store and a reminder table that outlive either silo (as Redis does), and one fake clock for grain timers and
/// reminders, so SLA deadlines come when a test moves time, not after hours. Alert events land in <see cref="Alerts"/>.
/// </summary>
internal sealed class GrainCluster : IAsyncDisposable
{
    private GrainCluster(InProcessTestCluster cluster, FakeTimeProvider clock, RecordingAlertSink alerts, SharedReminderTable? reminders, SharedGrainStorage.Rows storage)
    {
        Cluster = cluster;
        Clock = clock;
        Alerts = alerts;
        Reminders = reminders;
        Storage = storage;
    }

    public InProcessTestCluster Cluster { get; }

    /// <summary>The grains' clock (timers, the index's notion of now) and the reminders'. Device grains stamp events with
    /// the system clock, as in the service; this one starts at the same instant.</summary>
    public FakeTimeProvider Clock { get; }

    public RecordingAlertSink Alerts { get; }

    /// <summary>Null when the cluster has no reminder store.</summary>
    public SharedReminderTable? Reminders { get; }

    public SharedGrainStorage.Rows Storage { get; }

    public IGrainFactory Grains => Cluster.Client;

    public static async Task<GrainCluster> StartAsync(bool reminders = true, Action<ISiloBuilder>? configure = null)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var alerts = new RecordingAlertSink();
        var table = reminders ? new SharedReminderTable() : null;
        var storage = new SharedGrainStorage.Rows();
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddTelemetryGrains();
            silo.Services.AddKeyedSingleton<TimeProvider>(TimeProviderNames.Grains, clock);
            silo.Services.AddSingleton<IAlertSink>(alerts);
            silo.Services.AddSingleton<IQualitySink>(new NullQualitySink());
            silo.Services.AddGrainStorage(DeviceGrain.StorageName, (sp, _) => new SharedGrainStorage(sp.GetRequiredService<Serializer>(), storage));
            if (table is not null)
            {
                silo.AddReminders();
                silo.Services.AddSingleton<IReminderTable>(table);
                silo.Services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, clock);
            }

            configure?.Invoke(silo);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new GrainCluster(cluster, clock, alerts, table, storage);
    }

    /// <summary>Whether every silo's alert fan-out has delivered what it was handed and told the twins so: until then a
    /// fan-out may still call a twin, and activate it again if a test deactivated it.</summary>
    public bool FanOutsIdle => Cluster.Silos.Where(s => s.IsActive).Select(s => s.ServiceProvider.GetRequiredService<AlertFanOut>())
        .All(f => f.Pending == 0 && f.AwaitingConfirmation == 0);

    /// <summary>Deactivates an activation, as a silo does when it sheds it, and waits until it is gone.</summary>
    public async Task DeactivateAsync(GrainId grain)
    {
        if (Cluster.TryGetGrainContext(grain, out var context))
        {
            context.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "test"));
        }

        await UntilAsync(() => !Cluster.TryGetGrainContext(grain, out _), $"{grain} deactivated");
    }

    /// <summary>The silo an activation lives on.</summary>
    public InProcessSiloHandle SiloOf(GrainId grain)
    {
        Assert.True(Cluster.TryGetGrainContext(grain, out var context), $"{grain} is not active");
        return Cluster.Silos.Single(s => s.SiloAddress == context.Address.SiloAddress);
    }

    /// <summary>Polls <paramref name="done"/>, moving the fake clock on by <paramref name="step"/> each time (none when
    /// null); fails after 30 s of real time naming what never came.</summary>
    public Task UntilAsync(Func<bool> done, string what, TimeSpan? step = null) =>
        UntilAsync(() => Task.FromResult(done()), what, step);

    /// <summary><see cref="UntilAsync(Func{bool}, string, TimeSpan?)"/> for an outcome asked of a grain.</summary>
    public async Task UntilAsync(Func<Task<bool>> done, string what, TimeSpan? step = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 30 s for {what}");
            if (step is { } s)
            {
                Clock.Advance(s);
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>Every alert event the grains hand over, from any silo.</summary>
internal sealed class RecordingAlertSink : IAlertSink
{
    private readonly ConcurrentQueue<AlertEvent> _events = new();

    private volatile TaskCompletionSource? _gate;

    public IReadOnlyList<AlertEvent> Events => _events.ToArray();

    /// <summary>Events reached the sink while it was held (and wait there).</summary>
    public int Held;

    /// <summary>When set, <see cref="Hold"/> holds only the events it selects (one device's lane held up by another's).</summary>
    public volatile Func<AlertEvent, bool>? HoldOnly;

    /// <summary>When set, publishing the events it selects fails (a destination that refuses one device's events).</summary>
    public volatile Func<AlertEvent, bool>? Refuse;

    /// <summary>Publications refused by <see cref="Refuse"/>.</summary>
    public int Refused;

    /// <summary>From now on every publication waits, ignoring its cancellation (a broker that hangs), until <see cref="Release"/>.</summary>
    public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

    public async ValueTask PublishAsync(AlertEvent alert, CancellationToken cancellationToken)
    {
        if (Refuse is { } refuse && refuse(alert))
        {
            Interlocked.Increment(ref Refused);
            throw new InvalidOperationException($"the destination refuses {alert.Device}'s events (test)");
        }

        if (_gate is { } gate && (HoldOnly is not { } only || only(alert)))
        {
            Interlocked.Increment(ref Held);
            await gate.Task;
        }

        _events.Enqueue(alert);
    }

    public bool Has(string device, string code, AlertState state) =>
        _events.Any(e => e.Device == device && e.Code == code && e.State == state);
}

internal sealed class NullQualitySink : IQualitySink
{
    public ValueTask PublishAsync(DefectRateRow[] batchRows, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask RepublishAsync(DefectRateRow[] batchRows, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>Uplink rounds as the pipeline hands them to a device grain.</summary>
internal static class Uplink
{
    public static DeviceBirth Shoe(string model = "Stride-9", string batch = "B-01") => new()
    {
        Kind = "shoe",
        Model = model,
        Batch = batch,
        Firmware = "1.0.0",
    };

    /// <summary>One message (<paramref name="seq"/> of boot "b1") with one reading that adds <paramref name="km"/>.</summary>
    public static TelemetryBatch Run(uint seq, double km, DeviceBirth? birth = null) => new()
    {
        Birth = birth,
        TaggedWith = DeviceBirth.TagStamp(birth),
        Messages = [new BatchMessage(new MessageKey("b1", seq), 0, 1, 0)],
        Readings = [new ReadingRecord(DateTimeOffset.UtcNow.AddMinutes(-30).ToUnixTimeMilliseconds() + seq, 0, 1)],
        Metrics = [new MetricValue("distance_m", km * 1000)],
    };
}
