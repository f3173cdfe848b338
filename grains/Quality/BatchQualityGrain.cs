using Orleans.Runtime;
using Telemetry.Grains.Storage;

namespace Telemetry.Grains.Quality;

[GenerateSerializer, Alias("telemetry.device-exposure")]
public sealed class DeviceExposure
{
    [Id(0)] public long FirstMs { get; set; }

    [Id(1)] public long LastMs { get; set; }

    [Id(2)] public double Km { get; set; }
}

[GenerateSerializer, Alias("telemetry.batch-quality-state")]
public sealed class BatchQualityState
{
    [Id(0)] public string Kind { get; set; } = string.Empty;

    [Id(1)] public Dictionary<string, DeviceExposure> Devices { get; set; } = [];

    /// <summary>Failure mode → device → when and how it was learned (one failure per device and mode).</summary>
    [Id(2)] public Dictionary<string, Dictionary<string, FailureReport>> Failures { get; set; } = [];

    /// <summary>Kilometres per UTC day (days since 1970-01-01), for time-range queries.</summary>
    [Id(3)] public Dictionary<int, double> DailyKm { get; set; } = [];
}

/// <summary>
/// Exposure and failures of one (model, batch). Exposure arrives merged per device, from each silo's
/// <see cref="ExposureCollector"/> about once a second; it is
/// saved at most every <see cref="SaveInterval"/> (by a grain timer) and when the grain deactivates, so the write
/// rate does not grow with the fleet and a crash loses at most that much exposure. Failures are saved at once.
/// The model's grain is told whenever the device count or a failure count changes.
/// </summary>
[GrainType("batch-quality")]
internal sealed partial class BatchQualityGrain(
    [PersistentState("batch-quality", Devices.DeviceGrain.StorageName)] IPersistentState<BatchQualityState> quality,
    Microsoft.Extensions.Logging.ILogger<BatchQualityGrain> logger) : Grain, IBatchQualityGrain
{
    private static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(30);
    private const long DayMs = 86_400_000;

    private WriteBehind<BatchQualityState>? _writeBehind;

    /// <summary>Device-days and kilometres of the whole batch, kept up to date as reports arrive (and computed once
    /// at activation): the model grain is told the batch's totals whenever a device joins, and summing every
    /// device each time made a fleet of one batch coming back cost O(devices²).</summary>
    private double _allDays;
    private double _allKm;

    private WriteBehind<BatchQualityState> Saver => _writeBehind ??= new(this, quality, SaveInterval);

    private BatchQualityState State => quality.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var device in State.Devices.Values)
        {
            _allDays += DaysInService(device);
            _allKm += device.Km;
        }

        return base.OnActivateAsync(cancellationToken);
    }

    /// <summary>Days in service, at least one per device (a device seen once was in use that day).</summary>
    private static double DaysInService(DeviceExposure device) => Math.Max(1, (device.LastMs - device.FirstMs) / (double)DayMs);

    private (string Model, string Batch) Key
    {
        get
        {
            var key = this.GetPrimaryKeyString();
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            return (key[..slash], key[(slash + 1)..]);
        }
    }

    public Task ReportExposureAsync(ExposureReport report) => ReportExposuresAsync([report]);

    /// <summary>Never throws once the reports are applied: the caller would send them again and the kilometres would
    /// count twice. A model grain that could not be told hears the totals with the next device or failure (and its
    /// rates are read from this grain live anyway).</summary>
    public async Task ReportExposuresAsync(ExposureReport[] reports)
    {
        var joined = false;
        foreach (var report in reports)
        {
            joined |= Apply(report);
        }

        Saver.Changed();
        if (joined)
        {
            try
            {
                await TellModelAsync();
            }
            catch (Exception e)
            {
                LogTellModelFailed(logger, e, Key.Model, Key.Batch);
            }
        }
    }

    /// <summary>Adds one device's report; true when the device is new to the batch.</summary>
    private bool Apply(ExposureReport report)
    {
        if (State.Kind.Length == 0 && report.Kind.Length > 0)
        {
            State.Kind = report.Kind;
        }

        var isNew = !State.Devices.TryGetValue(report.Device, out var exposure);
        exposure ??= State.Devices[report.Device] = new DeviceExposure { FirstMs = report.FirstReadingMs, LastMs = report.LastReadingMs };
        var daysBefore = isNew ? 0 : DaysInService(exposure);
        exposure.FirstMs = Math.Min(exposure.FirstMs, report.FirstReadingMs);
        exposure.LastMs = Math.Max(exposure.LastMs, report.LastReadingMs);
        exposure.Km += report.DistanceKm;
        _allDays += DaysInService(exposure) - daysBefore;
        _allKm += report.DistanceKm;
        foreach (var (day, km) in report.KmByDay ?? [])
        {
            State.DailyKm[day] = State.DailyKm.GetValueOrDefault(day) + km;
        }

        return isNew;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await Saver.SaveAsync(cancellationToken);
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    public async Task ReportFailureAsync(FailureReport report)
    {
        if (!State.Failures.TryGetValue(report.Mode, out var byDevice))
        {
            State.Failures[report.Mode] = byDevice = [];
        }

        if (!byDevice.TryAdd(report.Device, report))
        {
            return;
        }

        await Saver.SaveNowAsync();
        await TellModelAsync();
    }

    public Task<BatchExposure> GetExposureAsync(QualityWindow window) => Task.FromResult(Exposure(window));

    private Task TellModelAsync() => GrainFactory.GetGrain<IModelQualityGrain>(Key.Model).UpdateAsync(Exposure(QualityWindow.All));

    private BatchExposure Exposure(QualityWindow window)
    {
        var fromMs = window.From?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var toMs = window.To?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        long devices = State.Devices.Count;
        double days = _allDays;
        double km = _allKm;
        if (window.From is not null || window.To is not null)
        {
            devices = 0;
            days = 0;
            foreach (var device in State.Devices.Values)
            {
                if (device.LastMs < fromMs || device.FirstMs >= toMs)
                {
                    continue;
                }

                devices++;
                // Days in service inside the window, at least one per device (a device seen once was in use that day).
                days += Math.Max(1, (Math.Min(device.LastMs, toMs) - Math.Max(device.FirstMs, fromMs)) / (double)DayMs);
            }

            km = State.DailyKm.Where(p => (long)p.Key * DayMs + DayMs > fromMs && (long)p.Key * DayMs < toMs).Sum(p => p.Value);
        }
        var failures = new Dictionary<string, ModeFailures>();
        foreach (var (mode, byDevice) in State.Failures)
        {
            var inWindow = byDevice.Values.Where(f => window.Contains(f.At)).ToList();
            if (inWindow.Count > 0)
            {
                failures[mode] = new ModeFailures(inWindow.Count, inWindow.Min(f => f.At));
            }
        }

        return new BatchExposure
        {
            Batch = Key.Batch,
            Kind = State.Kind,
            Devices = devices,
            DeviceDays = Math.Round(days, 1),
            DeviceKm = Math.Round(km, 1),
            Failures = failures,
        };
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "The model grain of {Model} was not told the totals of batch {Batch}; it hears them with the next change")]
    private static partial void LogTellModelFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception, string model, string batch);
}
