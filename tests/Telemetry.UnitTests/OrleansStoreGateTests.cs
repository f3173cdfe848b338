using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Ingest.Hosting;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The start-up gate that holds the silo until Orleans' Redis answers (<see cref="OrleansStoreGate"/>).</summary>
public sealed class OrleansStoreGateTests
{
    /// <summary>
    /// Review of b8080b5: a connect attempt that hangs (a firewall dropping packets) held the gate past a SIGTERM, and the
    /// cancelled start then crashed the process. The stop ends the wait at once, as a cancellation the host reads as a stop.
    /// </summary>
    [Fact]
    public async Task AStopWhileTheConnectHangs_EndsTheWaitAsACancellation()
    {
        using var hanging = new ManualResetEventSlim();
        var gate = new OrleansStoreGate(
            [new OrleansStoreGate.Store("hanging", () =>
            {
                hanging.Wait();
                throw new InvalidOperationException("released at the end of the test");
            }, Owned: false)],
            new FakeTimeProvider(), NullLogger<OrleansStoreGate>.Instance);
        using var stop = new CancellationTokenSource();

        var starting = gate.StartAsync(stop.Token);
        Assert.False(starting.IsCompleted, "the gate opened without a connection");
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => starting.WaitAsync(TimeSpan.FromSeconds(10)));
        hanging.Set();
    }
}
