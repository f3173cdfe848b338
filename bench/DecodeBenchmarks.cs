using BenchmarkDotNet.Attributes;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Bench;

/// <summary>Decode and validate a realistic 20-reading telemetry message. Figures are per reading.</summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private readonly TelemetryDecoder _decoder = new(new UplinkOptions());
    private readonly DecodedTelemetry _decoded = new();
    private byte[] _payload = [];

    [GlobalSetup]
    public void Setup() => _payload = Payloads.ShoeMessage(42);

    [Benchmark(OperationsPerInvoke = Payloads.ReadingsPerMessage)]
    public int DecodeAndValidate()
    {
        _decoder.Decode(_payload, Payloads.NowMs, _decoded);
        return _decoded.ReadingCount;
    }
}
