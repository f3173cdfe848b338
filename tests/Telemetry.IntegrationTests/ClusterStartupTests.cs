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
