using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// Issue #13: an instance configured half-way into a cluster must not run alone, nor join with state only it can see.
/// It exits at start-up naming each key it is missing.
/// </summary>
public sealed class ClusterStartupTests
{
    [Fact]
    public async Task AHalfConfiguredCluster_ExitsAtStartUp_NamingEveryMissingKey()
    {
        var (exitCode, output) = await RunServiceAsync(
            "--Orleans:Clustering:ProviderType", "Redis",
            "--Orleans:Clustering:ServiceKey", "redis",
            "--Urls", $"http://127.0.0.1:{ServerProcess.FreePort()}",
            "--Storage:DataDirectory", Path.Combine(Path.GetTempPath(), $"cluster-startup-{Guid.NewGuid():N}"));

        Assert.NotEqual(0, exitCode);
        foreach (var expected in new[]
        {
            "Orleans:Clustering:ServiceKey names 'redis', but ConnectionStrings:redis is not set",
            "Orleans:ClusterId is required",
            "Orleans:ServiceId is required",
            "Orleans:Reminders:ProviderType is required",
            "Twins:Store must be Redis",
            "Broker:Mode must be External",
            "Broker:SharedGroup is required",
            "Broker:ClientIdPrefix must be set",
        })
        {
            Assert.True(output.Contains(expected, StringComparison.Ordinal), $"missing \"{expected}\" in:\n{output}");
        }
    }

    /// <summary>
    /// Orleans sets up its Redis stores once when the silo starts and ends the process when Redis is not there (found
    /// in review: exit 134, a crash loop under docker-compose's restart policy). The service waits for it instead. A
    /// single node with reminders in Redis also gets its keyed connection (before, it passed validation and crashed).
    /// </summary>
    [Fact]
    public async Task AnInstanceStartedBeforeItsRedis_WaitsForIt_AndStarts()
    {
        await using var redis = new RedisServer();
        await using var service = new ServiceProcess(
            "--Broker:Port", ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            "--Orleans:Reminders:ProviderType", "Redis",
            "--Orleans:Reminders:ServiceKey", "redis",
            "--ConnectionStrings:redis", $"127.0.0.1:{redis.Port}",
            "--Logging:LogLevel:Telemetry.Ingest.Hosting.OrleansStoreGate", "Information");

        await StartBeforeRedisAsync(service, redis);

        using var health = await service.Http.GetAsync(new Uri("health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    /// <summary>
    /// The same in a cluster (membership and reminders in Redis, through one keyed connection): the instance waits for
    /// its Redis, joins, and <c>GET /api/cluster</c> counts it as the one active silo.
    /// </summary>
    [Fact]
    public async Task AClusteredInstanceStartedBeforeItsRedis_WaitsForIt_JoinsAndAnswersApiCluster()
    {
        await using var mosquitto = new MosquittoServer(ProductionServers.Secret, ["cluster-1"]);
        await mosquitto.StartAsync();
        await using var redis = new RedisServer();
        var clusterId = $"startup-{Guid.NewGuid():N}";
        await using var service = new ServiceProcess(
            "--Broker:Mode", "External",
            "--Broker:Host", "127.0.0.1",
            "--Broker:Port", mosquitto.ServicePort.ToString(CultureInfo.InvariantCulture),
            "--Broker:Username", MosquittoServer.ServiceUser,
            "--Broker:Password", MosquittoServer.ServicePassword,
            "--Broker:SharedGroup", "ingest",
            "--Broker:ClientIdPrefix", "node-a",
            "--Twins:Store", "Redis",
            "--Twins:Redis", $"127.0.0.1:{redis.Port}",
            "--Orleans:Clustering:ProviderType", "Redis",
            "--Orleans:Clustering:ServiceKey", "redis",
            "--Orleans:Reminders:ProviderType", "Redis",
            "--Orleans:Reminders:ServiceKey", "redis",
            "--ConnectionStrings:redis", $"127.0.0.1:{redis.Port}",
            "--Orleans:ClusterId", clusterId,
            "--Orleans:ServiceId", "telemetry",
            "--Orleans:AdvertisedAddress", "127.0.0.1",
            "--Logging:LogLevel:Telemetry.Ingest.Hosting.OrleansStoreGate", "Information");

        await StartBeforeRedisAsync(service, redis);

        var cluster = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri("api/cluster", UriKind.Relative))).RootElement;
        Assert.Equal("Redis", cluster.GetProperty("mode").GetString());
        Assert.Equal(clusterId, cluster.GetProperty("cluster_id").GetString());
        Assert.Equal(1, cluster.GetProperty("active").GetInt32());
        Assert.StartsWith("127.0.0.1:", cluster.GetProperty("self").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Review of b8080b5: SIGTERM while the instance waited for its Redis ended it with an unhandled
    /// TaskCanceledException (exit 134, a crash to a supervisor). A stop while starting is a clean exit.
    /// </summary>
    [Fact]
    public async Task AnInstanceStoppedWhileWaitingForItsRedis_ExitsCleanly()
    {
        await using var service = new ServiceProcess(
            "--Broker:Port", ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            "--Orleans:Reminders:ProviderType", "Redis",
            "--Orleans:Reminders:ServiceKey", "redis",
            "--ConnectionStrings:redis", $"127.0.0.1:{ServerProcess.FreePort()}");
        var starting = service.StartAsync(TimeSpan.FromSeconds(90));
        await WaitForOutputAsync(service, starting, "does not answer", "the service did not wait for Redis");

        var exitCode = await service.TerminateAsync(TimeSpan.FromSeconds(30));

        await Assert.ThrowsAsync<InvalidOperationException>(() => starting);
        Assert.True(exitCode == 0, $"exit code {exitCode?.ToString(CultureInfo.InvariantCulture) ?? "none (killed)"}:\n{service.Output}");
        Assert.DoesNotContain("Unhandled exception", service.Output, StringComparison.Ordinal);
    }

    /// <summary>Starts <paramref name="service"/> before <paramref name="redis"/>: it must wait (say so), start once Redis
    /// is up, and say it answered. Each line is looked for while the output arrives, not in its last lines afterwards.</summary>
    private static async Task StartBeforeRedisAsync(ServiceProcess service, RedisServer redis)
    {
        var starting = service.StartAsync(TimeSpan.FromSeconds(90));
        await WaitForOutputAsync(service, starting, "does not answer", "the service did not wait for Redis");

        await redis.StartAsync();
        var answered = false;
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!starting.IsCompleted)
        {
            answered |= service.Output.Contains("answers after", StringComparison.Ordinal);
            Assert.True(DateTime.UtcNow < deadline, $"the service did not start once Redis was up:\n{service.Output}");
            await Task.WhenAny(starting, Task.Delay(50));
        }

        await starting;
        answered |= service.Output.Contains("answers after", StringComparison.Ordinal);
        Assert.True(answered, $"the gate did not say Redis answered:\n{service.Output}");
    }

    private static async Task WaitForOutputAsync(ServiceProcess service, Task starting, string line, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!service.Output.Contains(line, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline && !starting.IsCompleted, $"{failure}:\n{service.Output}");
            await Task.WhenAny(starting, Task.Delay(50));
        }
    }

    private static async Task<(int ExitCode, string Output)> RunServiceAsync(params string[] args)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(MosquittoServer.RepositoryRoot, "ingest", "bin", configuration, "net10.0", "Telemetry.Ingest.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[dll, "--contentRoot", Path.GetDirectoryName(dll)!, .. args])
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("the service did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"the service was still running 60 s after start:\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, await stdout + "\n" + await stderr);
    }
}
