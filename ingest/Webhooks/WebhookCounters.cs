using System.Collections.Concurrent;
using Telemetry.Ingest.Api;

namespace Telemetry.Ingest.Webhooks;

/// <summary>Delivery counts per webhook index since start; pending and dead-lettered totals come from the queue itself.</summary>
internal sealed class WebhookCounters
{
    /// <summary>Pseudo-index counting the events of webhooks no longer configured.</summary>
    public const int Removed = -1;

    private readonly ConcurrentDictionary<int, long[]> _counts = new();

    private const int Delivered = 0, Retries = 1, FailedAttempts = 2, DeadLettered = 3;

    public void CountDelivered(int webhook, bool afterRetry)
    {
        Increment(webhook, Delivered);
        if (afterRetry)
        {
            Increment(webhook, Retries);
        }
    }

    public void CountFailedAttempt(int webhook) => Increment(webhook, FailedAttempts);

    public void CountDeadLettered(int webhook, long count = 1) => Interlocked.Add(ref _counts.GetOrAdd(webhook, _ => new long[4])[DeadLettered], count);

    public WebhookStats Snapshot(int webhook, long pending, long deadLetteredHeld)
    {
        var counts = _counts.GetOrAdd(webhook, _ => new long[4]);
        return new WebhookStats
        {
            Delivered = Interlocked.Read(ref counts[Delivered]),
            DeliveredAfterRetry = Interlocked.Read(ref counts[Retries]),
            FailedAttempts = Interlocked.Read(ref counts[FailedAttempts]),
            DeadLettered = Interlocked.Read(ref counts[DeadLettered]),
            DeadLetterHeld = deadLetteredHeld,
            Pending = pending,
        };
    }

    private void Increment(int webhook, int which) => Interlocked.Increment(ref _counts.GetOrAdd(webhook, _ => new long[4])[which]);
}
