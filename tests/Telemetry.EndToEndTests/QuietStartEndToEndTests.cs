using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Telemetry.Tests;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>A normal start says nothing alarming: no line at Warning or above in its first seconds.</summary>
public sealed class QuietStartEndToEndTests
{
    /// <summary>Long enough for the silo's watchdog to have run both of its checks, which it does as it starts.</summary>
    private static readonly TimeSpan Watched = TimeSpan.FromSeconds(3);

    /// <summary>
    /// What only this test's way of running the service logs: Orleans' note that the process runs workstation GC (event
    /// 100405; the service runs server GC, the Web SDK's default, the test runner hosting it here does not), and the
    /// answers to the /health probes the host makes until the service is ready (each unhealthy one is an Error line of
    /// ASP.NET's health checks).
    /// </summary>
    private static bool IsTestHostOnly(CapturedLog.Line line) =>
        line is { Category: "Orleans.Runtime.Silo", EventId.Id: 100405 }
            or { Category: "Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService" };

    [Fact]
    public async Task NormalStart_WithSimulatedFleet_LogsNoWarning_AndItsStopNoError()
    {
        // Three starts: Orleans' watchdog warned on about one start in three (a race as it starts its threads).
        for (var start = 1; start <= 3; start++)
        {
            var log = new CapturedLog();
            var host = await OutboxServiceHost.StartAsync(["--simulate", "20"], services => services.AddSingleton<ILoggerProvider>(log));
            CapturedLog.Line[] starting;
            try
            {
                await Task.Delay(Watched);
                starting = [.. log.Lines];
            }
            finally
            {
                await host.DisposeAsync();
            }

            var alarming = starting.Where(l => l.Level >= LogLevel.Warning && !IsTestHostOnly(l)).ToArray();
            Assert.True(alarming.Length == 0, $"start {start} logged: {string.Join(Environment.NewLine, alarming.Select(l => l.ToString()))}");

            // Stopping may warn (a delivery left to the next run) but not fail: the simulated fleet once stopped the
            // host with a critical line when the stop cut off a device's publish.
            var failed = log.Lines.Skip(starting.Length).Where(l => l.Level >= LogLevel.Error && !IsTestHostOnly(l)).ToArray();
            Assert.True(failed.Length == 0, $"stop {start} logged: {string.Join(Environment.NewLine, failed.Select(l => l.ToString()))}");
        }
    }
}
