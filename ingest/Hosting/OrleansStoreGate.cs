using StackExchange.Redis;

namespace Telemetry.Ingest.Hosting;

/// <summary>
/// Holds the start of the silo until every Redis its Orleans providers use (membership, reminders) answers a PING.
/// Orleans sets up its membership table once when the silo starts and ends the process if Redis is not there: an
/// instance started before its Redis (a compose stack coming up, Redis restarting) would crash and be restarted in a
/// loop. It waits instead, and says so every few seconds.
/// </summary>
internal sealed partial class OrleansStoreGate(IReadOnlyList<string> connectionStrings, TimeProvider time, ILogger<OrleansStoreGate> logger) : IHostedService
{
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(2);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var connectionString in connectionStrings)
        {
            var options = ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = 2000;
            var endpoint = options.EndPoints.FirstOrDefault()?.ToString() ?? connectionString;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
                    await connection.GetDatabase().PingAsync();
                    if (attempt > 1)
                    {
                        LogAnswered(logger, endpoint, attempt);
                    }

                    break;
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    LogWaiting(logger, endpoint, attempt, e.Message);
                }

                await Task.Delay(RetryEvery, time, cancellationToken);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Orleans store at {Redis} does not answer (attempt {Attempt}: {Reason}); the silo waits for it before starting")]
    private static partial void LogWaiting(ILogger logger, string redis, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The Orleans store at {Redis} answers after {Attempt} attempts; the silo starts")]
    private static partial void LogAnswered(ILogger logger, string redis, int attempt);
}
