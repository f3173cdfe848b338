using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Telemetry.Grains.Alerts;

/// <summary>
/// Wakes the alert index when the silo starts, so that its SLA timer (an Orleans grain timer, see
/// <see cref="AlertIndexGrain"/>) is armed for deadlines that were pending before a restart. Retries until
/// the silo answers. In a cluster every silo asks; the index lives on one of them, and a reminder (when a reminder
/// store is configured) wakes it again on a survivor if that silo dies.
/// </summary>
internal sealed partial class SlaMonitor(IGrainFactory grains, TimeProvider time, ILogger<SlaMonitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                var status = await grains.GetGrain<IAlertIndexGrain>(0).GetSlaStatusAsync();
                if (status.NextDeadline is { } deadline)
                {
                    LogArmed(logger, status.AwaitingResponse, deadline);
                }
                else
                {
                    LogNothingPending(logger);
                }

                return;
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // Cut off by the stop (the silo going): the next start wakes the index again.
                return;
            }
            catch (Exception e)
            {
                // A cancellation too (a call Orleans gave up on): retried like any failure, where thrown on it ended the
                // monitor, cancelled, before any stop, which the host logs as a failed BackgroundService.
                LogWakeFailed(logger, e, attempt);
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt)), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} alerts await their first response; next SLA deadline {Deadline:u}")]
    private static partial void LogArmed(ILogger logger, int count, DateTimeOffset deadline);

    [LoggerMessage(Level = LogLevel.Information, Message = "No alert awaits its first response: no SLA deadline pending")]
    private static partial void LogNothingPending(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not wake the alert index (attempt {Attempt}); SLA deadlines wait until it answers")]
    private static partial void LogWakeFailed(ILogger logger, Exception exception, int attempt);
}
