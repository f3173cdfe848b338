using BenchmarkDotNet.Attributes;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Bench;

/// <summary>Decode and validate a realistic 20-reading telemetry message. Figures are per reading.</summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private readonly TelemetryDecoder _decoder = new(new UplinkOptions());
    private readonly TelemetryDecoder _general = new(new UplinkOptions(), plainPath: false);
    private readonly DecodedTelemetry _decoded = new();
    private byte[] _payload = [];

    [GlobalSetup]
    public void Setup() => _payload = Payloads.ShoeMessage(42);

    /// <summary>As the service decodes: the plain reader, since the message has the shape firmware sends.</summary>
    [Benchmark(OperationsPerInvoke = Payloads.ReadingsPerMessage)]
    public int DecodeAndValidate()
    {
        _decoder.Decode(_payload, Payloads.NowMs, _decoded);
        return _decoded.ReadingCount;
    }

    /// <summary>The same message through <c>Utf8JsonReader</c>, as every message was read before the plain reader
    /// and as anything outside the plain shape still is.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Payloads.ReadingsPerMessage)]
    public int DecodeAndValidateWithUtf8JsonReader()
    {
        _general.Decode(_payload, Payloads.NowMs, _decoded);
        return _decoded.ReadingCount;
    }
}
