using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// The two grain calls a partition makes. In the service they go to <see cref="Telemetry.Grains.Devices.IDeviceGrain"/>;
/// tests put a twin store that fails on purpose behind them.
/// </summary>
internal interface IDeviceTwins
{
    /// <summary>The birth and metric names the device's twin holds.</summary>
    Task<IngestProfile> GetIngestProfileAsync(string deviceId);

    /// <summary>Applies one round's batch of a device to its twin.</summary>
    Task<IngestResult> IngestAsync(string deviceId, TelemetryBatch batch);
}
