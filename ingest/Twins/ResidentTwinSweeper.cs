using Telemetry.Grains.Devices;

namespace Telemetry.Ingest.Twins;

/// <summary>
/// Keeps the resident device twins at most <c>Twins:MaxResidentTwins</c>: woken when an activation goes past
/// the cap, it deactivates the least recently called tenth, then waits again. Runs in the silo's process; the
/// twins it sheds are already stored, so the cost is only a read when their device next sends.
/// </summary>
internal sealed partial class ResidentTwinSweeper(ResidentTwins residents, ILogger<ResidentTwinSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await residents.WaitUntilOverLimitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var resident = residents.Count;
            var shed = residents.ShedLeastRecentlyUsed();
            LogShed(logger, resident, residents.Max, shed);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Resident} device twins resident, more than Twins:MaxResidentTwins ({Max}): deactivating the {Shed} least recently used (their state is stored)")]
    private static partial void LogShed(ILogger logger, int resident, int max, int shed);
}
