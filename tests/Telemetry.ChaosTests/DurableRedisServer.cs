using System.Globalization;
using Telemetry.IntegrationTests;

namespace Telemetry.ChaosTests;

/// <summary>
/// Redis as a twin store is run in production: with an append-only file synced on every write, so that a
/// <c>kill -9</c> and a restart on the same port take the store away without taking the twins with it.
/// (The integration tests' RedisServer keeps nothing on disk.)
/// </summary>
public sealed class DurableRedisServer() : ServerProcess("redis")
{
    public int Port { get; } = FreePort();

    protected override (string File, IReadOnlyList<string> Args) Command() => ("redis-server",
        ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", Directory, "--save", "", "--appendonly", "yes", "--appendfsync", "always"]);

    protected override Task<bool> IsReadyAsync() => RedisAnswersAsync(Port);
}
