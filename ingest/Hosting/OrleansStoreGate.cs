using StackExchange.Redis;

namespace Telemetry.Ingest.Hosting;

/// <summary>
/// Holds the start of the silo until every Redis its Orleans providers use (membership, reminders) is connected and
/// answers a PING. Orleans sets up its membership table once when the silo starts and ends the process if Redis is not
/// there: an instance started before its Redis (a compose stack coming up, Redis restarting) would crash and be
/// restarted in a loop. It waits instead, and says so at every check.
/// <para>
/// A provider given a <c>ServiceKey</c> is checked through the keyed connection Orleans itself is handed, not a fresh
/// one: a fresh connection that answers says nothing of a shared one still reconnecting (or whose connect attempts
/// hang). A provider given a connection string makes its own connection at start, so a connection made the same way
/// stands for it.
/// </para>
/// </summary>
/// <param name="stores">Each Redis, named for the log, and how to get the connection to check (see <see cref="Store"/>).</param>
/// <param name="time">Paces the checks and bounds each one.</param>
/// <param name="logger">Says that the silo waits, and when Redis answers.</param>
internal sealed partial class OrleansStoreGate(IReadOnlyList<OrleansStoreGate.Store> stores, TimeProvider time, ILogger<OrleansStoreGate> logger) : IHostedService
{
    /// <summary>Between two checks of a Redis that did not answer.</summary>
    public static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(2);

    /// <summary>Longest wait for a connection or a PING's answer: a Redis that accepts and says nothing must not hold the
    /// check for good (StackExchange.Redis' own timeouts apply too; this bounds what they leave open).</summary>
    public static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(5);

    /// <summary>A Redis to wait for.</summary>
    /// <param name="Name">What the log calls it (its endpoint, or its ServiceKey).</param>
    /// <param name="Connect">The connection to check; may block while it connects.</param>
    /// <param name="Owned">Made for the check, so disposed after it (the keyed connections belong to the container).</param>
    public sealed record Store(string Name, Func<IConnectionMultiplexer> Connect, bool Owned);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var store in stores)
        {
            // ConnectionMultiplexer.Connect blocks for its first attempt (ConnectTimeout, longer when connects hang): off
            // the start-up thread, and given up on when the host stops.
            var connection = await Task.Run(store.Connect, cancellationToken).WaitAsync(cancellationToken);
            try
            {
                await WaitForAsync(store.Name, connection, cancellationToken);
            }
            finally
            {
                if (store.Owned)
                {
                    await connection.DisposeAsync();
                }
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task WaitForAsync(string name, IConnectionMultiplexer connection, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            string reason;
            if (!connection.IsConnected)
            {
                reason = "not connected";
            }
            else
            {
                try
                {
                    await connection.GetDatabase().PingAsync().WaitAsync(AnswerWithin, time, cancellationToken);
                    if (attempt > 1)
                    {
                        LogAnswered(logger, name, attempt);
                    }

                    return;
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    reason = e.Message;
                }
            }

            LogWaiting(logger, name, attempt, reason, CheckEvery.TotalSeconds);
            await Task.Delay(CheckEvery, time, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Orleans store at {Redis} does not answer (check {Attempt}: {Reason}); the silo waits for it before starting, checking again in {Seconds} s")]
    private static partial void LogWaiting(ILogger logger, string redis, int attempt, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "The Orleans store at {Redis} answers after {Attempt} checks; the silo starts")]
    private static partial void LogAnswered(ILogger logger, string redis, int attempt);
}
