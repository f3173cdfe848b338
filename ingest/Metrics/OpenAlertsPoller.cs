using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;

namespace Telemetry.Ingest.Metrics;

/// <summary>
/// Feeds the <c>telemetry_alerts_open</c> gauge: asks the alert index how many alerts are in each open state, every
/// <see cref="MetricsOptions.OpenAlertsInterval"/>. Polled rather than counted from events, so that the figure is
/// right after a restart and the same on every instance of a cluster (there is one index). A failed poll keeps the
/// last figures; the next one tries again.
/// </summary>
internal sealed partial class OpenAlertsPoller(
    IGrainFactory grains, AlertMetrics metrics, IOptions<MetricsOptions> options, TimeProvider time, ILogger<OpenAlertsPoller> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.OpenAlertsInterval, time);
        do
        {
            try
            {
                await PollAsync();
            }
            catch (Exception e)
            {
                // The silo may still be starting, or the index's silo gone: not worth more than a debug line. Caught while
                // stopping too: a count cut off by the stop (the call has no token to end it as a cancellation) faulted
                // the poller, and the host logged a failed BackgroundService.
                LogPollFailed(logger, e);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>One count per state; each call asks for no alert, only the total.</summary>
    internal async Task PollAsync()
    {
        var index = grains.GetGrain<IAlertIndexGrain>(0);
        foreach (var state in AlertMetrics.OpenAlertStates)
        {
            var page = await index.QueryAsync(new AlertFilter { State = state }, 0, 1);
            metrics.SetOpen(state, page.Total);
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not count the open alerts for telemetry_alerts_open; trying again at the next interval")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);
}
