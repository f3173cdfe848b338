using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Hosting;

namespace Telemetry.Ingest.Webhooks;

/// <summary>
/// Delivers alert events to the configured webhooks from the durable <see cref="WebhookQueue"/>: one loop per
/// webhook, strictly in queue order (an event waits for the one before it, so a receiver sees an alert's changes in
/// the order they happened), each POST signed (<see cref="WebhookSignature"/>) and bounded by the webhook's timeout.
/// Network errors, timeouts, 408, 429 and 5xx are retried with capped exponential backoff and jitter; any other
/// non-2xx answer is permanent and dead-letters the event at once, as does running past <c>GiveUpAfter</c>.
/// While a webhook's head event fails, <c>/health</c> shows <c>webhooks/N</c> degraded with the reason.
/// Queued events are keyed by the webhook's <see cref="WebhookOptions.Identity"/>, not its index: at start-up the
/// events still pending for an identity no longer configured are dead-lettered (<see cref="RemovedReason"/>), never
/// sent to whichever webhook now has that index; and the <c>Codes</c> filter is checked again before each send.
/// </summary>
internal sealed partial class WebhookSender(
    IOptions<WebhooksOptions> options,
    WebhookQueue queue,
    IHttpClientFactory httpClients,
    WebhookCounters counters,
    ComponentHealth health,
    TimeProvider time,
    ILogger<WebhookSender> logger,
    Random? random = null) : BackgroundService
{
    public const string HttpClientName = "webhooks";

    /// <summary>Reason of a pending event whose webhook is no longer configured.</summary>
    public const string RemovedReason = "webhook removed from configuration";

    /// <summary>Stats key of the events of webhooks no longer configured (present once there are any).</summary>
    public const string RemovedStatsKey = "removed";

    // How often a long-running service purges delivered and dead-lettered rows past their retention (also at start).
    private static readonly TimeSpan PurgeEvery = TimeSpan.FromHours(6);

    private readonly List<WebhookOptions> _webhooks = options.Value.Webhooks;
    private readonly string[] _identities = [.. options.Value.Webhooks.Select(hook => hook.Identity())];
    private readonly SemaphoreSlim[] _wake = [.. options.Value.Webhooks.Select(_ => new SemaphoreSlim(0))];
    // Jitter spreads the retries of many services after a receiver's outage; tests pass a seeded one.
    private readonly Random _random = random ?? Random.Shared;

    public static string Component(int webhook) => $"webhooks/{webhook}";

    /// <summary>
    /// Queues <paramref name="alert"/> for every webhook whose codes match and completes once that is committed to
    /// disk. Queuing an event id a webhook already has is a no-op.
    /// </summary>
    public async Task EnqueueAsync(AlertEvent alert, byte[] body, CancellationToken cancellationToken)
    {
        var targets = new List<int>();
        for (var i = 0; i < _webhooks.Count; i++)
        {
            if (_webhooks[i].Wants(alert.Code))
            {
                targets.Add(i);
            }
        }

        if (targets.Count == 0)
        {
            return;
        }

        var eventId = alert.EventId.Length > 0 ? alert.EventId : alert.Id;
        await queue.EnqueueAsync([.. targets.Select(i => _identities[i])], eventId, alert.Code, body, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        foreach (var target in targets)
        {
            if (_wake[target].CurrentCount == 0)
            {
                _wake[target].Release();
            }
        }
    }

    /// <summary>
    /// Per webhook, by index: counts since start and what its queue holds. Under <see cref="RemovedStatsKey"/>, once
    /// there are any: events of webhooks no longer configured, dead-lettered since start and held in the file.
    /// </summary>
    public Dictionary<string, WebhookStats> Stats()
    {
        var stats = new Dictionary<string, WebhookStats>(StringComparer.Ordinal);
        for (var i = 0; i < _webhooks.Count; i++)
        {
            var (pending, dead) = queue.Counts(_identities[i]);
            stats[i.ToString(CultureInfo.InvariantCulture)] = counters.Snapshot(i, pending, dead) with { Name = _identities[i] };
        }

        var removed = counters.Snapshot(WebhookCounters.Removed, pending: 0, queue.DeadExcept(_identities));
        if (removed.DeadLettered > 0 || removed.DeadLetterHeld > 0)
        {
            stats[RemovedStatsKey] = removed;
        }

        return stats;
    }

    /// <summary>Settles the queue before any delivery starts: pending events of removed webhooks are dead-lettered.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (queue.MigratedFromIndexKeyed > 0)
        {
            counters.CountDeadLettered(WebhookCounters.Removed, queue.MigratedFromIndexKeyed);
            LogMigrated(logger, queue.MigratedFromIndexKeyed, WebhookQueue.ChangedBeforeUpgrade);
        }

        var orphans = await queue.DeadLetterPendingExceptAsync(_identities, time.GetUtcNow().ToUnixTimeMilliseconds(), RemovedReason, cancellationToken);
        foreach (var (identity, count) in orphans)
        {
            counters.CountDeadLettered(WebhookCounters.Removed, count);
            LogRemoved(logger, identity, count);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll([.. _webhooks.Select((_, i) => RunAsync(i, stoppingToken)), PurgeAsync(stoppingToken)]);

    private async Task PurgeAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(PurgeEvery, time, stoppingToken);
                var (delivered, dead) = queue.Purge(time.GetUtcNow());
                LogPurged(logger, delivered, dead);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Only housekeeping: the next round tries again, deliveries go on.
                LogPurgeFailed(logger, e);
            }
        }
    }

    private async Task RunAsync(int webhook, CancellationToken stoppingToken)
    {
        var hook = _webhooks[webhook];
        var http = httpClients.CreateClient(HttpClientName);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var next = await queue.NextAsync(_identities[webhook], stoppingToken);
                if (next is null)
                {
                    await _wake[webhook].WaitAsync(stoppingToken);
                    continue;
                }

                // Queued under this identity, so it matched at enqueue; checked again in case Codes changed since.
                if (next.Code is null || !hook.Wants(next.Code))
                {
                    await DeadLetterAsync(webhook, next, $"code {next.Code ?? "(unknown)"} is not in the webhook's Codes", stoppingToken);
                    continue;
                }

                var now = time.GetUtcNow().ToUnixTimeMilliseconds();
                if (next.NextMs > now)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(next.NextMs - now), time, stoppingToken);
                    continue;
                }

                if (now - next.QueuedMs > hook.GiveUpAfter.TotalMilliseconds)
                {
                    await DeadLetterAsync(webhook, next, $"not delivered within {hook.GiveUpAfter} ({next.Attempts} attempts)", stoppingToken);
                    continue;
                }

                var (outcome, reason) = await SendAsync(http, hook, next, stoppingToken);
                switch (outcome)
                {
                    case Outcome.Delivered:
                        await queue.DeliveredAsync(next.Seq, time.GetUtcNow().ToUnixTimeMilliseconds(), stoppingToken);
                        counters.CountDelivered(webhook, next.Attempts > 0);
                        health.Clear(Component(webhook));
                        break;
                    case Outcome.Permanent:
                        counters.CountFailedAttempt(webhook);
                        await DeadLetterAsync(webhook, next, reason, stoppingToken);
                        break;
                    default:
                        counters.CountFailedAttempt(webhook);
                        var delay = Backoff(hook, next.Attempts + 1);
                        LogRetry(logger, webhook, next.EventId, reason, delay);
                        health.Report(Component(webhook), HealthStatus.Degraded, $"{hook.Url} fails ({reason}); {next.EventId} retried in {delay}");
                        await queue.RetryAtAsync(next.Seq, time.GetUtcNow().Add(delay).ToUnixTimeMilliseconds(), stoppingToken);
                        break;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The queue itself failed (disk): nothing is lost, it is all in the file; try again shortly.
                LogQueueFailed(logger, e, webhook);
                health.Report(Component(webhook), HealthStatus.Unhealthy, $"the webhook queue failed: {e.Message}");
                await Task.Delay(hook.RetryFirst, time, stoppingToken);
            }
        }
    }

    private enum Outcome
    {
        Delivered,
        Retry,
        Permanent,
    }

    private async Task<(Outcome Outcome, string Reason)> SendAsync(HttpClient http, WebhookOptions hook, QueuedWebhookEvent item, CancellationToken stoppingToken)
    {
        var seconds = time.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url) { Content = new ByteArrayContent(item.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(WebhookSignature.EventIdHeader, item.EventId);
        request.Headers.Add(WebhookSignature.TimestampHeader, seconds.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(hook.Secret, seconds, item.Body));
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        limit.CancelAfter(hook.Timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return (Outcome.Delivered, string.Empty);
            }

            var reason = FormattableString.Invariant($"HTTP {status}");
            return status >= 500 || response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout
                ? (Outcome.Retry, reason)
                : (Outcome.Permanent, reason);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return (Outcome.Retry, $"no answer within {hook.Timeout}");
        }
        catch (HttpRequestException e)
        {
            return (Outcome.Retry, e.HttpRequestError.ToString());
        }
    }

    /// <summary>Capped exponential backoff with jitter: a random 50–100% of min(cap, first × 2^(attempt−1)).</summary>
    private TimeSpan Backoff(WebhookOptions hook, int attempt)
    {
        var full = Math.Min(hook.RetryCap.Ticks, hook.RetryFirst.Ticks * (1L << Math.Min(attempt - 1, 30)));
        return TimeSpan.FromTicks((long)(full * (0.5 + (_random.NextDouble() / 2))));
    }

    private async Task DeadLetterAsync(int webhook, QueuedWebhookEvent item, string reason, CancellationToken cancellationToken)
    {
        await queue.DeadLetterAsync(item.Seq, time.GetUtcNow().ToUnixTimeMilliseconds(), reason, cancellationToken);
        counters.CountDeadLettered(webhook);
        LogDeadLettered(logger, webhook, item.EventId, reason);
        health.Report(Component(webhook), HealthStatus.Degraded, $"dead-lettered {item.EventId}: {reason}");
    }

    public override void Dispose()
    {
        foreach (var wake in _wake)
        {
            wake.Dispose();
        }

        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {Webhook}: event {EventId} failed ({Reason}); retrying in {Delay}")]
    private static partial void LogRetry(ILogger logger, int webhook, string eventId, string reason, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {Webhook}: event {EventId} dead-lettered: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, int webhook, string eventId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {Webhook}: its queue failed; retrying")]
    private static partial void LogQueueFailed(ILogger logger, Exception exception, int webhook);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook identity {Identity} is no longer configured: {Count} pending events dead-lettered, not sent to any webhook")]
    private static partial void LogRemoved(ILogger logger, string identity, long count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "webhooks.db was keyed by webhook index: {Count} pending events dead-lettered ({Reason}), not sent")]
    private static partial void LogMigrated(ILogger logger, long count, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook queue purged {Delivered} delivered and {DeadLettered} dead-lettered rows past their retention")]
    private static partial void LogPurged(ILogger logger, int delivered, int deadLettered);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook queue purge failed; trying again later")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
