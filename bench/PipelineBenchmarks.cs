using System.Diagnostics.Metrics;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Bench;

/// <summary>
/// The pipeline stage from payload to per-device batch: decode, validate, dedupe, batch, and build the
/// arrays a grain call carries. A round of 100 messages from 10 devices (2000 readings); figures are per reading.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private const int Devices = 10;
    private const int MessagesPerRound = 100;

    private readonly InboundMessage[] _messages = new InboundMessage[MessagesPerRound];
    private PartitionWorker _worker = null!;

    [GlobalSetup]
    public void Setup()
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        // A burst large enough that the rate limiter never interferes with the measurement.
        var uplink = new UplinkOptions { RateLimitBurst = int.MaxValue, RateLimitPerSecond = 1e12 };
        _worker = new PartitionWorker(Channel.CreateUnbounded<InboundMessage>().Reader, null!, new NoReplies(), null!,
            new IngestCounters(meters), uplink, new PipelineOptions(), TimeProvider.System, NullLogger.Instance);
        for (var i = 0; i < MessagesPerRound; i++)
        {
            var payload = Payloads.ShoeMessage((uint)(i / Devices));
            _messages[i] = new InboundMessage($"shoe-{i % Devices:D5}", UplinkTopic.Telemetry, payload, payload.Length, null);
        }
    }

    [Benchmark(OperationsPerInvoke = MessagesPerRound * Payloads.ReadingsPerMessage)]
    public int PayloadToDeviceBatches()
    {
        foreach (var message in _messages)
        {
            _worker.Stage(message, Payloads.NowMs);
        }

        var readings = 0;
        foreach (var builder in _worker.Round)
        {
            readings += builder.Build().Readings.Length;
        }

        // Each round reuses the same seqs; without a grain confirming them they never count as duplicates.
        _worker.ReleaseRound();
        return readings;
    }

    /// <summary>The same round, formatted as the InfluxDB line protocol the store receives (one line per reading).</summary>
    [Benchmark(OperationsPerInvoke = MessagesPerRound * Payloads.ReadingsPerMessage)]
    public int PayloadToLineProtocol()
    {
        foreach (var message in _messages)
        {
            _worker.Stage(message, Payloads.NowMs);
        }

        _lines.Clear();
        foreach (var builder in _worker.Round)
        {
            builder.WriteLines(_lines, Birth);
        }

        _worker.ReleaseRound();
        return _lines.LineCount;
    }

    private static readonly DeviceBirth Birth = new() { Kind = "shoe", Model = "aerorun-3", Batch = "2025w28-sz2", Firmware = "1.4.2" };

    private readonly Telemetry.Ingest.Storage.LineProtocol _lines = new(1 << 20);

    private sealed class NoReplies : IDeviceReplies
    {
        public void Ack(string deviceId, MessageKey ack)
        {
        }

        public bool Error(in ErrorReport report) => true;
    }
}
