using System.Diagnostics;
using System.Text.Json;
using Telemetry.IntegrationTests;

namespace Telemetry.ChaosTests;

/// <summary>
/// The load tool (<c>bench -- load</c>, the build next to this suite's configuration) as a child process:
/// its devices are the only clients that see acks, so its report is the ground truth of what was acked.
/// </summary>
public sealed class LoadRun : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private LoadRun(Process process, string reportFile)
    {
        _process = process;
        ReportFile = reportFile;
    }

    public string ReportFile { get; }

    public bool HasExited => _process.HasExited;

    public static LoadRun Start(IEnumerable<string> arguments)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(MosquittoServer.RepositoryRoot, "bench", "bin", configuration, "net10.0", "Telemetry.Bench.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution (the chaos suite's project builds bench/).");
        }

        var report = Path.Combine(Path.GetTempPath(), $"chaos-load-{Guid.NewGuid():N}.json");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])[dll, "load", "--report", report, .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("the load tool did not start");
        var run = new LoadRun(process, report);
        process.OutputDataReceived += (_, e) => Keep(run._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(run._stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return run;
    }

    /// <summary>Waits for the tool to finish (it stops itself at its --timeout) and reads its summary and report.</summary>
    public async Task<LoadResult> WaitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the load tool did not finish within {within}: {Tail(_stderr)}");
        }

        // WaitForExitAsync returns once the output streams are drained too.
        string? summary;
        lock (_stdout)
        {
            summary = _stdout.LastOrDefault(l => l.StartsWith('{'));
        }

        if (summary is null || !File.Exists(ReportFile))
        {
            throw new InvalidOperationException($"the load tool exited with {_process.ExitCode} without a summary:\n{Tail(_stderr)}");
        }

        return LoadResult.Parse(_process.ExitCode, summary, await File.ReadAllTextAsync(ReportFile));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        File.Delete(ReportFile);
    }

    private static void Keep(List<string> lines, string? line)
    {
        if (line is not null)
        {
            lock (lines)
            {
                lines.Add(line);
            }
        }
    }

    private static string Tail(List<string> lines)
    {
        lock (lines)
        {
            return string.Join('\n', lines.TakeLast(20));
        }
    }
}
