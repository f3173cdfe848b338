using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Pipeline;

namespace Telemetry.Ingest.Twins;

/// <summary>
/// Watches the Redis twin store on its own connection and says on <c>/health</c> ("twins") while it cannot be
/// reached, also when no device is sending (grain calls would show it only under traffic). The service starts
/// and runs with Redis down; the pipeline holds what needs a twin until Redis answers.
/// </summary>
internal sealed partial class RedisTwinMonitor(
    IOptions<TwinOptions> twins,
    IOptions<PipelineOptions> pipeline,
    ComponentHealth health,
    TimeProvider time,
    ILogger<RedisTwinMonitor> logger) : BackgroundService
{
    public const string Component = "twins";

    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>The connection settings every Redis connection of the service uses: never give up at start-up,
    /// and time out each connect attempt and command.</summary>
    public static ConfigurationOptions ConnectionOptions(TwinOptions options)
    {
        var configuration = ConfigurationOptions.Parse(options.Redis);
        // Without this, a Redis that is down when the silo starts throws from the storage provider's init and
        // stops the service; with it the multiplexer connects in the background and reconnects by itself.
        configuration.AbortOnConnectFail = false;
        var timeout = (int)options.RedisTimeout.TotalMilliseconds;
        configuration.ConnectTimeout = timeout;
        configuration.SyncTimeout = timeout;
        configuration.AsyncTimeout = timeout;
        // While disconnected, fail a command at once instead of queueing it until the timeout: the grain call fails
        // fast, and the pipeline holds its messages and retries with backoff (the retry is the queue).
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        return configuration;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = twins.Value;
        var configuration = ConnectionOptions(options);
        using var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        var database = connection.GetDatabase();
        DateTimeOffset? downSince = null;
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                await database.PingAsync();
                if (downSince is not null)
                {
                    LogRedisBack(logger, options.Redis);
                    health.Clear(Component);
                    downSince = null;
                }
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                var now = time.GetUtcNow();
                if (downSince is null)
                {
                    LogRedisDown(logger, e, options.Redis);
                }

                downSince ??= now;
                health.Report(Component, now - downSince >= pipeline.Value.UnhealthyAfter ? HealthStatus.Unhealthy : HealthStatus.Degraded,
                    FormattableString.Invariant($"Redis at {options.Redis} unreachable since {downSince:O} ({e.GetType().Name}); twin updates are held and retried"));
            }
        }
        while (await WaitAsync(timer, stoppingToken));
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

    [LoggerMessage(Level = LogLevel.Error, Message = "The Redis twin store at {Redis} cannot be reached; twin updates are held until it answers")]
    private static partial void LogRedisDown(ILogger logger, Exception exception, string redis);

    [LoggerMessage(Level = LogLevel.Information, Message = "The Redis twin store at {Redis} answers again")]
    private static partial void LogRedisBack(ILogger logger, string redis);
}
