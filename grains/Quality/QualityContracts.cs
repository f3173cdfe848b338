namespace Telemetry.Grains.Quality;

/// <summary>A device's use since the last report: its identity and how far it went.</summary>
[GenerateSerializer, Immutable, Alias("telemetry.exposure")]
public sealed record ExposureReport(
    [property: Id(0)] string Device,
    [property: Id(1)] string Kind,
    [property: Id(2)] string Model,
    [property: Id(3)] string Batch,
    [property: Id(4)] long FirstReadingMs,
    [property: Id(5)] long LastReadingMs,
    [property: Id(6)] double DistanceKm);

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

/// <summary>Where quality status changes go (retained MQTT in this host).</summary>
public interface IQualitySink
{
    ValueTask PublishAsync(DefectRateRow[] batchRows, CancellationToken cancellationToken);
}

/// <summary>
/// The quality view of the whole fleet (key 0): exposure and failures per (model, batch), defect rates with
/// Wilson intervals, and each batch's status against its model's baseline (see DefectStatistics).
/// </summary>
[Alias("telemetry.quality")]
public interface IQualityGrain : IGrainWithIntegerKey
{
    [Alias("exposure"), Orleans.Concurrency.OneWay]
    Task ReportExposureAsync(ExposureReport report);

    [Alias("failure")]
    Task ReportFailureAsync(FailureReport report);

    [Alias("rates")]
    Task<DefectRateRow[]> GetRatesAsync();
}
