using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class LineFileStoreTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("telemetry-lines-").FullName;
    private readonly StorageCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task UnwritableDirectory_IsNotAcknowledgedAndUnhealthyUntilAWriteSucceeds()
    {
        // lines/ replaced by a regular file: creating the directory fails, for root as well.
        var lines = Path.Combine(_data, "lines");
        File.WriteAllText(lines, "in the way");
        var health = new ComponentHealth(_time);
        using var store = new LineFileStore(Options.Create(new StorageOptions { DataDirectory = _data }), _counters, health, _time,
            NullLogger<LineFileStore>.Instance);

        var refused = await store.StoreAsync("m f=1i 1\n"u8.ToArray(), 1, CancellationToken.None);

        Assert.False(refused);
        Assert.Equal((1, 0), (_counters.Failures, _counters.Written));
        var state = Assert.Single(health.Failing());
        Assert.Equal(("store", HealthStatus.Unhealthy), (state.Key, state.Value.Status));
        Assert.StartsWith($"cannot write readings under {lines}: ", state.Value.Reason, StringComparison.Ordinal);

        File.Delete(lines);
        var stored = await store.StoreAsync("m f=2i 2\n"u8.ToArray(), 1, CancellationToken.None);

        Assert.True(stored);
        Assert.Equal((1, 1), (_counters.Failures, _counters.Written));
        Assert.Empty(health.Failing());
        Assert.Equal("m f=2i 2\n", File.ReadAllText(Path.Combine(lines, "2026-11-26.lp")));
    }
}
