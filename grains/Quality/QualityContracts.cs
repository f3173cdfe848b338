namespace Telemetry.Grains.Quality;

/// <summary>A device's use since the last report: its identity, its reading span, and how far it went.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.exposure")]
public sealed record ExposureReport(
    [property: Id(0)] string Device,
    [property: Id(1)] string Kind,
    [property: Id(2)] string Model,
    [property: Id(3)] string Batch,
    [property: Id(4)] long FirstReadingMs,
    [property: Id(5)] long LastReadingMs,
    [property: Id(6)] Dictionary<int, double>? KmByDay)
{
    /// <summary>Kilometres by the UTC day of their readings (days since 1970-01-01), so that an upload after days
    /// offline lands on the days it was run.</summary>
    public double DistanceKm => KmByDay?.Values.Sum() ?? 0;
}

/// <summary>A failure of one device by one failure mode: from a fault alert, or confirmed by after-sales.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.failure")]
public sealed record FailureReport(
    [property: Id(0)] string Device,
    [property: Id(1)] string Model,
    [property: Id(2)] string Batch,
    [property: Id(3)] string Mode,
    [property: Id(4)] DateTimeOffset At,
    [property: Id(5)] string Source);

/// <summary>One row of the defect-rate view and export: a (model, batch, failure mode).</summary>
[GenerateSerializer, Immutable, Alias("telemetry.defect-rate")]
public sealed record DefectRateRow
{
    [Id(0)] public required string Model { get; init; }

    [Id(1)] public required string Batch { get; init; }

    [Id(2)] public required string FailureMode { get; init; }

    [Id(3)] public required long Devices { get; init; }

    [Id(4)] public required double DeviceDays { get; init; }

    [Id(5)] public required double DeviceKm { get; init; }

    [Id(6)] public required long Failures { get; init; }

    [Id(7)] public required double Rate { get; init; }

    [Id(8)] public required double CiLow { get; init; }

    [Id(9)] public required double CiHigh { get; init; }

    [Id(10)] public required double Baseline { get; init; }

    [Id(11)] public required double PValue { get; init; }

    [Id(12)] public required string Status { get; init; }

    [Id(13)] public DateTimeOffset? FirstFailureAt { get; init; }
}

/// <summary>
/// A time range for the quality view, half-open [From, To): failures whose time falls in it, devices in service
/// during it, their device-days inside it, and the kilometres of the UTC days it covers. Either end may be open.
/// </summary>
[GenerateSerializer, Immutable, Alias("telemetry.quality-window")]
public sealed record QualityWindow(
    [property: Id(0)] DateTimeOffset? From,
    [property: Id(1)] DateTimeOffset? To)
{
    public static QualityWindow All { get; } = new(null, null);

    public bool Contains(DateTimeOffset at) => (From is null || at >= From) && (To is null || at < To);
}

/// <summary>One batch's exposure and failures (within a window), as its grain reports them to its model.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.batch-exposure")]
public sealed record BatchExposure
{
    [Id(0)] public required string Batch { get; init; }

    [Id(1)] public required string Kind { get; init; }

    [Id(2)] public required long Devices { get; init; }

    [Id(3)] public required double DeviceDays { get; init; }

    [Id(4)] public required double DeviceKm { get; init; }

    /// <summary>Failure mode → failed devices and the time of the first failure.</summary>
    [Id(5)] public required Dictionary<string, ModeFailures> Failures { get; init; }
}

[GenerateSerializer, Immutable, Alias("telemetry.mode-failures")]
public sealed record ModeFailures(
    [property: Id(0)] long Count,
    [property: Id(1)] DateTimeOffset FirstAt);

/// <summary>Where quality status changes go (retained MQTT in this host).</summary>
public interface IQualitySink
{
    ValueTask PublishAsync(DefectRateRow[] batchRows, CancellationToken cancellationToken);

    /// <summary>A batch's current rows sent again, not a change: for a broker that may have lost its retained
    /// messages (the embedded one at every restart).</summary>
    ValueTask RepublishAsync(DefectRateRow[] batchRows, CancellationToken cancellationToken);
}

/// <summary>
/// The quality aggregate of one (model, batch), key <c>{model}/{batch}</c>: the devices in service with their
/// days and kilometres, and one failure per device and failure mode. Device grains report here on every
/// round, so this is the hot path; the model's grain hears only when a count changes.
/// </summary>
[Alias("telemetry.batch-quality")]
public interface IBatchQualityGrain : IGrainWithStringKey
{
    [Alias("exposure"), Orleans.Concurrency.OneWay]
    Task ReportExposureAsync(ExposureReport report);

    /// <summary>Many devices' exposure at once, each device at most once (what <see cref="ExposureCollector"/> sends).</summary>
    [Alias("exposures")]
    Task ReportExposuresAsync(ExposureReport[] reports);

    [Alias("failure")]
    Task ReportFailureAsync(FailureReport report);

    /// <summary>Interleaves: the model's grain asks while a batch may be waiting on it.</summary>
    [Alias("get"), Orleans.Concurrency.AlwaysInterleave]
    Task<BatchExposure> GetExposureAsync(QualityWindow window);
}

/// <summary>
/// One model's view across its batches, key: the model id. It holds each batch's latest counts, assesses every
/// batch against the baseline of the model's other batches (DefectStatistics), publishes a batch's rows when
/// its status changes, and answers defect-rate queries by asking its batch grains.
/// </summary>
[Alias("telemetry.model-quality")]
public interface IModelQualityGrain : IGrainWithStringKey, Devices.IOutboxOwner
{
    [Alias("update")]
    Task UpdateAsync(BatchExposure counts);

    [Alias("rates")]
    Task<DefectRateRow[]> GetRatesAsync(QualityWindow window);

    /// <summary>
    /// Publishes again the current rows of every batch whose status ever changed (those the broker retains a message
    /// for), after the publisher (re)connected: the embedded broker keeps retained messages in memory only, and
    /// Mosquitto writes them to disk only every autosave interval. Stored as pending like a change and delivered after
    /// this call returns. Returns how many batches were queued.
    /// </summary>
    [Alias("republish")]
    Task<int> RepublishAsync();
}

/// <summary>The models that have a quality view (key 0), so fleet-wide exports can find them.</summary>
[Alias("telemetry.quality-catalog")]
public interface IQualityCatalogGrain : IGrainWithIntegerKey
{
    [Alias("add")]
    Task AddModelAsync(string model);

    [Alias("models"), Orleans.Concurrency.ReadOnly]
    Task<string[]> GetModelsAsync();
}

/// <summary>Entry points for device grains and the API.</summary>
public static class QualityGrains
{
    public static IBatchQualityGrain Batch(this IGrainFactory grains, string model, string batch) =>
        grains.GetGrain<IBatchQualityGrain>($"{model}/{batch}");

    /// <summary>Defect-rate rows of every model (or one), within a window, ordered by model, batch and mode.</summary>
    public static async Task<DefectRateRow[]> RatesAsync(this IGrainFactory grains, string? model, QualityWindow window)
    {
        var models = model is null ? await grains.GetGrain<IQualityCatalogGrain>(0).GetModelsAsync() : [model];
        var rows = await Task.WhenAll(models.Select(m => grains.GetGrain<IModelQualityGrain>(m).GetRatesAsync(window)));
        return [.. rows.SelectMany(r => r).OrderBy(r => r.Model, StringComparer.Ordinal)
            .ThenBy(r => r.Batch, StringComparer.Ordinal).ThenBy(r => r.FailureMode, StringComparer.Ordinal)];
    }
}
