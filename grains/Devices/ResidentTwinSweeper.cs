using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Telemetry.Grains.Devices;

/// <summary>
/// Keeps the resident device twins at most <c>Twins:MaxResidentTwins</c>: woken when an activation goes past
/// the cap, it deactivates the least recently called tenth, then waits again. Runs in the silo's process; the
/// twins it sheds are already stored, so the cost is only a read when their device next sends.
/// <para>
/// A sweep that sheds nothing because it failed is logged and tried again after a second, doubling to half a minute
/// while it keeps failing; a sweep that sheds some twins but not others logs those and goes on at once. Nothing
/// ends the sweeper but the service stopping: the failure that matters most is the one it exists for, memory so
/// short that the sweep, its log line or its timer cannot be allocated. A hosted service that throws stops the whole
/// service, and with it every device's ingest, when the sweep is the one thing that would give memory back.
/// </para>
/// </summary>
internal sealed partial class ResidentTwinSweeper(ResidentTwins residents, ILogger<ResidentTwinSweeper> logger, TimeProvider time) : BackgroundService
{
    /// <summary>Wait after a first failed sweep: the activations it did ask to leave have time to go.</summary>
    internal static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait while sweeps keep failing, so that a lasting failure logs twice a minute, not every second.</summary>
    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>Sweeps that failed since start.</summary>
    internal long Failures { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan delay;
            try
            {
                await residents.WaitUntilOverLimitAsync(stoppingToken);
                var resident = residents.Count;
                var outcome = residents.ShedLeastRecentlyUsed();
                if (outcome.Failures.Count == 0 || outcome.Shed > 0)
                {
                    failing = 0;
                    Log(outcome, resident);
                    continue;
                }

                throw new AggregateException($"none of the {outcome.Failures.Count} twins chosen could be asked to leave", outcome.Failures);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                delay = TimeSpan.FromTicks(Math.Min(RetryDelay.Ticks << Math.Min(failing++, 5), MaxRetryDelay.Ticks));
                try
                {
                    LogSweepFailed(logger, e, residents.Count, residents.Max, delay.TotalSeconds);
                }
                catch (Exception)
                {
                    // Short of memory, formatting the log can fail too; the retry matters more than the line.
                }
            }

            try
            {
                var retry = Task.Delay(delay, time, stoppingToken);
                // Counted once the retry's timer exists, so a test that sees the count can move its clock past it.
                Failures++;
                await retry;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Not even a timer could be allocated: wait on this thread rather than sweep again at once.
                Thread.Sleep(delay);
            }
        }
    }

    private void Log(ShedOutcome outcome, int resident)
    {
        try
        {
            if (outcome.Failures.Count == 0)
            {
                LogShed(logger, resident, residents.Max, outcome.Shed);
            }
            else
            {
                LogShedPartly(logger, outcome.Failures[0], resident, residents.Max, outcome.Shed, outcome.Failures.Count);
            }
        }
        catch (Exception)
        {
            // As above: a log line is not worth the sweeper.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Resident} device twins resident, more than Twins:MaxResidentTwins ({Max}): deactivating the {Shed} least recently used (their state is stored)")]
    private static partial void LogShed(ILogger logger, int resident, int max, int shed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Resident} device twins resident, more than Twins:MaxResidentTwins ({Max}): deactivating {Shed}; {Failed} could not be asked to leave and stay resident")]
    private static partial void LogShedPartly(ILogger logger, Exception first, int resident, int max, int shed, int failed);

    [LoggerMessage(Level = LogLevel.Error, Message = "Deactivating device twins past Twins:MaxResidentTwins ({Max}) failed with {Resident} resident; trying again in {DelaySeconds} s")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception, int resident, int max, double delaySeconds);
}
