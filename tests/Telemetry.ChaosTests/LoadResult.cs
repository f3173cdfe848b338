using System.Text.Json;

namespace Telemetry.ChaosTests;

/// <summary>What a load run ended with: its summary line, and per device what the service acknowledged.</summary>
public sealed record LoadResult(int ExitCode, JsonElement Summary, string Boot, long BaseMs, long StepMs, int ReadingsPerMessage, IReadOnlyList<DeviceAcks> Devices)
{
    public long ReadingsAcked => Devices.Sum(d => d.ReadingsAcked);

    public long Count(string name) => Summary.GetProperty(name).GetInt64();

    public static LoadResult Parse(int exitCode, string summary, string report)
    {
        var root = JsonDocument.Parse(report).RootElement;
        var devices = root.GetProperty("devices").EnumerateArray().Select(d => new DeviceAcks(
            d.GetProperty("id").GetString()!,
            d.GetProperty("acked_seq").GetInt64(),
            d.GetProperty("readings_sent").GetInt64(),
            d.GetProperty("readings_acked").GetInt64())).ToList();
        return new LoadResult(exitCode, JsonDocument.Parse(summary).RootElement.Clone(), root.GetProperty("boot").GetString()!,
            root.GetProperty("base_ms").GetInt64(), root.GetProperty("step_ms").GetInt64(), root.GetProperty("readings_per_message").GetInt32(), devices);
    }

    /// <summary>Readings of a device with a timestamp before this were in messages the service acked.</summary>
    public long AckedBeforeMs(DeviceAcks device) => BaseMs + ((device.AckedSeq + 1) * ReadingsPerMessage * StepMs);
}
