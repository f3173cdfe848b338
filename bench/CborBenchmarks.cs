using System.Formats.Cbor;
using BenchmarkDotNet.Attributes;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Bench;

/// <summary>
/// Decode and validate the realistic 20-reading shoe message (<see cref="Payloads"/>) in JSON and in CBOR, into the
/// same <see cref="DecodedTelemetry"/> with the same rules. Figures are per reading. <see cref="CborReaderWalk"/>
/// only walks the CBOR message's items with System.Formats.Cbor's <see cref="CborReader"/>, validating nothing: the
/// floor under any decoder built on that reader, which is why the service has a span reader of its own.
/// </summary>
[MemoryDiagnoser]
public class CborBenchmarks
{
    private readonly TelemetryDecoder _json = new(new UplinkOptions());
    private readonly CborTelemetryDecoder _cbor = new(new UplinkOptions());
    private readonly DecodedTelemetry _decoded = new();
    private byte[] _jsonPayload = [];
    private byte[] _cborPayload = [];
    private CborReader _reader = null!;

    [GlobalSetup]
    public void Setup()
    {
        _jsonPayload = Payloads.ShoeMessage(42);
        _cborPayload = Payloads.ShoeCborMessage(42);
        _reader = new CborReader(_cborPayload, CborConformanceMode.Lax);
        // The wire sizes go into docs/uplink.md next to the timings; BenchmarkDotNet keeps this line in its log.
        Console.WriteLine($"// Wire bytes for {Payloads.ReadingsPerMessage} readings: JSON {_jsonPayload.Length}, CBOR {_cborPayload.Length}");
        if (_cbor.Decode(_cborPayload, Payloads.NowMs, _decoded) != RejectReason.None || _decoded.ReadingCount != Payloads.ReadingsPerMessage)
        {
            throw new InvalidOperationException($"the CBOR message does not decode: {_decoded.Detail}");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Payloads.ReadingsPerMessage)]
    public int JsonDecodeAndValidate()
    {
        _json.Decode(_jsonPayload, Payloads.NowMs, _decoded);
        return _decoded.ReadingCount;
    }

    [Benchmark(OperationsPerInvoke = Payloads.ReadingsPerMessage)]
    public int CborDecodeAndValidate()
    {
        _cbor.Decode(_cborPayload, Payloads.NowMs, _decoded);
        return _decoded.ReadingCount;
    }

    [Benchmark(OperationsPerInvoke = Payloads.ReadingsPerMessage)]
    public double CborReaderWalk()
    {
        var reader = _reader;
        reader.Reset(_cborPayload);
        var sum = 0.0;
        var fields = reader.ReadStartMap() ?? 0;
        for (var f = 0; f < fields; f++)
        {
            if (reader.ReadInt32() != 3)
            {
                reader.SkipValue();
                continue;
            }

            var readings = reader.ReadStartArray() ?? 0;
            for (var r = 0; r < readings; r++)
            {
                reader.ReadStartMap();
                reader.ReadInt32();
                sum += reader.ReadInt64();
                reader.ReadInt32();
                var metrics = reader.ReadStartMap() ?? 0;
                for (var m = 0; m < metrics; m++)
                {
                    reader.ReadInt32();
                    sum += reader.PeekState() == CborReaderState.UnsignedInteger ? reader.ReadUInt64() : reader.ReadDouble();
                }

                reader.ReadEndMap();
                reader.ReadEndMap();
            }

            reader.ReadEndArray();
        }

        reader.ReadEndMap();
        return sum;
    }
}
