using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Telemetry.Ingest.Hosting;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// Review of b8080b5: the start-up gate pinged a fresh Redis connection of its own, and opened while the keyed connection
/// Orleans' providers are handed could still be reconnecting; Orleans' one-shot membership set-up then failed on it. The
/// gate now opens only once that connection itself is connected and answers.
/// </summary>
public sealed class OrleansStoreGateTests
{
    [Fact]
    public async Task TheGate_OpensOnlyOnceTheKeyedConnectionItselfAnswers()
    {
        await using var redis = new RedisServer();
        var options = ConfigurationOptions.Parse($"127.0.0.1:{redis.Port}");
        // As the service makes the keyed connection: it connects in the background and reconnects by itself.
        options.AbortOnConnectFail = false;
        await using var keyed = await ConnectionMultiplexer.ConnectAsync(options);
        Assert.False(keyed.IsConnected);
        var gate = new OrleansStoreGate([new OrleansStoreGate.Store("keyed", () => keyed, Owned: false)], TimeProvider.System,
            NullLogger<OrleansStoreGate>.Instance);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        var starting = gate.StartAsync(stop.Token);
        Assert.False(starting.IsCompleted, "the gate opened with no Redis");
        await redis.StartAsync();
        await starting.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(keyed.IsConnected, "the gate opened while the keyed connection was not connected");
        Assert.True(await keyed.GetDatabase().PingAsync() < TimeSpan.FromSeconds(5));
    }
}
