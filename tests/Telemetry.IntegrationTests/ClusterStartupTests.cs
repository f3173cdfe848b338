using System.Diagnostics;
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
            "--Broker:Port", ServerProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Orleans:Reminders:ProviderType", "Redis",
            "--Orleans:Reminders:ServiceKey", "redis",
            "--ConnectionStrings:redis", $"127.0.0.1:{redis.Port}",
            "--Logging:LogLevel:Telemetry.Ingest.Hosting.OrleansStoreGate", "Information");

        var starting = service.StartAsync(TimeSpan.FromSeconds(90));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!service.Output.Contains("does not answer", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline && !starting.IsCompleted, $"the service did not wait for Redis:\n{service.Output}");
            await Task.Delay(100);
        }

        await redis.StartAsync();
        await starting;

        Assert.Contains("answers after", service.Output, StringComparison.Ordinal);
        using var health = await service.Http.GetAsync(new Uri("health", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
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
