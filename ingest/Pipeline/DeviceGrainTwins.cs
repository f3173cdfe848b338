using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Pipeline;

/// <summary>The partitions' grain calls, made to the device grains of the silo hosted in the service.</summary>
internal sealed class DeviceGrainTwins(IGrainFactory grains) : IDeviceTwins
{
    public Task<IngestProfile> GetIngestProfileAsync(string deviceId) =>
        grains.GetGrain<IDeviceGrain>(deviceId).GetIngestProfileAsync();

    public Task<IngestResult> IngestAsync(string deviceId, TelemetryBatch batch) =>
        grains.GetGrain<IDeviceGrain>(deviceId).IngestAsync(batch);
}
