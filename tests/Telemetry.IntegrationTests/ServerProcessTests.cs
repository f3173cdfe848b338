using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>The harness must not take another test's server for the one it started.</summary>
public sealed class ServerProcessTests
{
    [Fact]
    public async Task ARedisWhosePortIsTaken_IsNotReady_EvenThoughThePortAnswersRedis()
    {
        await using var first = new RedisServer();
        await first.StartAsync();
        await using var second = new RedisServer { Port = first.Port };

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync(TimeSpan.FromSeconds(20)));

        Assert.Contains("exited: True", failure.Message, StringComparison.Ordinal);
    }
}
