using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Webhooks;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The webhook sender against a real HTTP listener that fails on purpose: retries with backoff, order, signatures,
/// dead letters, counts, and a queue that outlives the sender.
/// </summary>
public sealed class WebhookSenderTests : IDisposable
{
    private const string Secret = "webhook-test-secret";

    // Nothing listens here: every attempt is a refused connection, retried.
    private static readonly Uri Nowhere = new("http://127.0.0.1:9/hook");
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-webhooks-").FullName;

    [Fact]
    public async Task ServerErrors_AreRetried_ThenEveryEventArrivesInOrder_Signed()
    {
        await using var receiver = await WebhookReceiver.StartAsync((n, _) => n <= 3 ? 500 : 200);
        await using var sender = await StartAsync(receiver.Url);
        var events = new[] { Event("e1"), Event("e2"), Event("e3") };
        foreach (var alert in events)
        {
            await sender.Sender.EnqueueAsync(alert, ReplyJson.Alert(alert), CancellationToken.None);
        }

        var seen = new List<WebhookRequest>();
        for (var i = 0; i < 6; i++)
        {
            seen.Add(await receiver.NextAsync($"request {i + 1} of 6"));
        }

        Assert.Equal(["A:e1", "A:e1", "A:e1", "A:e1", "A:e2", "A:e3"], seen.Select(r => r.EventId));
        Assert.Equal([500, 500, 500, 200, 200, 200], seen.Select(r => r.AnsweredWith));
        foreach (var request in seen)
        {
            Assert.True(WebhookSignature.Verify(Secret, request.Timestamp, request.Body, request.Signature), $"signature of {request.EventId}");
            Assert.StartsWith("application/json", request.ContentType, StringComparison.Ordinal);
        }

        Assert.Equal(ReplyJson.Alert(events[1]), seen[4].Body);
        Assert.Contains("\"event_id\":\"A:e2\"", Encoding.UTF8.GetString(seen[4].Body), StringComparison.Ordinal);
        var stats = await WaitForStatsAsync(sender.Sender, s => s.Delivered == 3, "three delivered");
        Assert.Equal(new WebhookStats { Name = sender.Hook.Identity(), Delivered = 3, DeliveredAfterRetry = 1, FailedAttempts = 3, DeadLettered = 0, DeadLetterHeld = 0, Pending = 0 }, stats);
        Assert.Empty(sender.Health.Failing());
    }

    [Fact]
    public async Task APermanentClientError_DeadLettersThatEvent_AndTheNextOneStillGoes()
    {
        await using var receiver = await WebhookReceiver.StartAsync((_, eventId) => eventId == "A:bad" ? 400 : 200);
        await using var sender = await StartAsync(receiver.Url);
        await sender.Sender.EnqueueAsync(Event("bad"), ReplyJson.Alert(Event("bad")), CancellationToken.None);
        await sender.Sender.EnqueueAsync(Event("good"), ReplyJson.Alert(Event("good")), CancellationToken.None);

        Assert.Equal(("A:bad", 400), Pair(await receiver.NextAsync("the refused event")));
        Assert.Equal(("A:good", 200), Pair(await receiver.NextAsync("the next event")));

        var stats = await WaitForStatsAsync(sender.Sender, s => s.Delivered == 1, "one delivered");
        Assert.Equal(new WebhookStats { Name = sender.Hook.Identity(), Delivered = 1, DeliveredAfterRetry = 0, FailedAttempts = 1, DeadLettered = 1, DeadLetterHeld = 1, Pending = 0 }, stats);
        Assert.Equal([("A:bad", "HTTP 400")], sender.Queue.DeadLetters(sender.Hook.Identity()));
        Assert.False(receiver.TryTake(out _), "a dead-lettered event must not be sent again");
    }

    [Fact]
    public async Task AnEventStillFailingAfterGiveUpAfter_IsDeadLettered()
    {
        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 503);
        // Retries every 50–200 ms: within 3 s several attempts fail however busy the machine, and the event is given up.
        await using var sender = await StartAsync(receiver.Url, hook => hook.GiveUpAfter = TimeSpan.FromSeconds(3));
        await sender.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);

        var stats = await WaitForStatsAsync(sender.Sender, s => s.DeadLettered == 1, "dead-lettered after 3 s");
        Assert.True(stats.FailedAttempts >= 2, $"retried before giving up ({stats.FailedAttempts} attempts)");
        Assert.Equal(0, stats.Pending);
        var (eventId, reason) = Assert.Single(sender.Queue.DeadLetters(sender.Hook.Identity()));
        Assert.Equal("A:e1", eventId);
        Assert.StartsWith("not delivered within", reason, StringComparison.Ordinal);
        Assert.Contains("webhooks/0", sender.Health.Failing().Keys);
    }

    [Fact]
    public async Task TheQueue_SurvivesARestartOfTheSender_AndANamedWebhooksUrlChange_AndARepeatOfADeliveredEventIsNotSentAgain()
    {
        // The first URL refuses every connection; the webhook's Name keeps its queue when the URL changes.
        await using (var first = await StartAsync(Nowhere, hook => hook.Name = "service-desk"))
        {
            await first.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);
            await first.Sender.EnqueueAsync(Event("e2"), ReplyJson.Alert(Event("e2")), CancellationToken.None);
            await WaitForStatsAsync(first.Sender, s => s.FailedAttempts >= 1 && s.Pending == 2, "a failed attempt with both pending");
        }

        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 200);
        await using var second = await StartAsync(receiver.Url, hook => hook.Name = "service-desk");
        Assert.Equal("A:e1", (await receiver.NextAsync("the first event after the restart")).EventId);
        Assert.Equal("A:e2", (await receiver.NextAsync("the second event after the restart")).EventId);

        // A twin retrying its outbox queues e1 again: the queue knows it, so only e3 goes out.
        await second.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);
        await second.Sender.EnqueueAsync(Event("e3"), ReplyJson.Alert(Event("e3")), CancellationToken.None);
        Assert.Equal("A:e3", (await receiver.NextAsync("the new event")).EventId);
        Assert.Equal(2 + 1, (await WaitForStatsAsync(second.Sender, s => s.Delivered == 3, "three delivered")).Delivered);
    }

    [Fact]
    public async Task APendingEventOfARemovedWebhook_IsDeadLetteredAtStart_AndCounted_NotSentToTheWebhookNowAtItsIndex()
    {
        await using (var first = await StartAsync(Nowhere, hook => hook.Name = "customer-a"))
        {
            await first.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);
            await WaitForStatsAsync(first.Sender, s => s.FailedAttempts >= 1 && s.Pending == 1, "a failed attempt with e1 pending");
        }

        // customer-a is gone; customer-b now has index 0.
        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 200);
        await using var second = await StartAsync(receiver.Url, hook => hook.Name = "customer-b");

        Assert.Equal([("A:e1", WebhookSender.RemovedReason)], second.Queue.DeadLetters("customer-a"));
        var stats = second.Sender.Stats();
        Assert.Equal(new WebhookStats { Delivered = 0, DeliveredAfterRetry = 0, FailedAttempts = 0, DeadLettered = 1, DeadLetterHeld = 1, Pending = 0 }, stats[WebhookSender.RemovedStatsKey]);
        Assert.Equal(0, stats["0"].Pending);

        // Delivery is in queue order, so had e1 been handed to customer-b it would arrive before e2.
        await second.Sender.EnqueueAsync(Event("e2"), ReplyJson.Alert(Event("e2")), CancellationToken.None);
        var request = await receiver.NextAsync("customer-b's own event");
        Assert.Equal("A:e2", request.EventId);
        await WaitForStatsAsync(second.Sender, s => s.Delivered == 1, "e2 delivered");
        Assert.False(receiver.TryTake(out var extra), $"customer-b also received {extra?.EventId}");
    }

    [Fact]
    public async Task APendingEventOutsideCodesChangedSinceItWasQueued_IsDeadLettered_NotSent()
    {
        await using (var first = await StartAsync(Nowhere, hook => hook.Name = "service-desk"))
        {
            await first.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);
            await WaitForStatsAsync(first.Sender, s => s.FailedAttempts >= 1 && s.Pending == 1, "a failed attempt with e1 pending");
        }

        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 200);
        await using var second = await StartAsync(receiver.Url, hook => (hook.Name, hook.Codes) = ("service-desk", ["band.*"]));
        await WaitForStatsAsync(second.Sender, s => s.DeadLettered == 1, "e1 dead-lettered at send time");
        Assert.Equal([("A:e1", "code shoe.cushioning.replace_soon is not in the webhook's Codes")], second.Queue.DeadLetters("service-desk"));
        Assert.False(receiver.TryTake(out var sent), $"sent {sent?.EventId} outside the webhook's Codes");
    }

    [Fact]
    public async Task AnIndexKeyedQueueFile_IsMigrated_ItsPendingEventsDeadLettered_NotSent()
    {
        var path = Path.Combine(_directory, "webhooks.db");
        using (var old = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            old.Open();
            using var create = old.CreateCommand();
            // The first schema, keyed by the webhook's index: one event delivered, one pending for index 0.
            create.CommandText = """
                CREATE TABLE webhook_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, webhook INTEGER NOT NULL, event_id TEXT NOT NULL, body BLOB NOT NULL,
                    queued_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending', done_ms INTEGER, reason TEXT, UNIQUE (webhook, event_id));
                CREATE INDEX webhook_event_pending ON webhook_event (webhook, state, seq);
                INSERT INTO webhook_event (webhook, event_id, body, queued_ms, next_ms, state, done_ms)
                    VALUES (0, 'A:e0', x'', 1, 1, 'delivered', 2);
                INSERT INTO webhook_event (webhook, event_id, body, queued_ms, next_ms) VALUES (0, 'A:e1', x'7b7d', 1, 1);
                """;
            create.ExecuteNonQuery();
        }

        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 200);
        await using var sender = await StartAsync(receiver.Url);
        Assert.Equal(1, sender.Queue.MigratedFromIndexKeyed);
        Assert.Equal([("A:e1", WebhookQueue.ChangedBeforeUpgrade)], sender.Queue.DeadLetters("index:0"));
        Assert.Equal(1, sender.Sender.Stats()[WebhookSender.RemovedStatsKey].DeadLettered);

        await sender.Sender.EnqueueAsync(Event("e2"), ReplyJson.Alert(Event("e2")), CancellationToken.None);
        Assert.Equal("A:e2", (await receiver.NextAsync("the first event after the upgrade")).EventId);
    }

    [Fact]
    public async Task EventsQueuedDuringACommit_ShareTheNextOne_AndEachIsQueuedOnceInOrder()
    {
        var t0 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        using var queue = new WebhookQueue(Path.Combine(_directory, "webhooks.db"), t0);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        queue.BeforeEnqueueCommit = () => hold.Task;

        // An alert storm: the first event holds the queue while 50 more arrive.
        var events = Enumerable.Range(0, 51)
            .Select(i => queue.EnqueueAsync(["hook"], $"A:e{i}", "x", [(byte)i], t0.ToUnixTimeMilliseconds(), CancellationToken.None))
            .ToList();
        Assert.DoesNotContain(events, e => e.IsCompleted);
        hold.SetResult();
        await Task.WhenAll(events);

        Assert.Equal(1, queue.EnqueueCommits);
        await queue.EnqueueAsync(["hook"], "A:e0", "x", [0], t0.ToUnixTimeMilliseconds(), CancellationToken.None);
        var delivered = new List<string>();
        while (await queue.NextAsync("hook", CancellationToken.None) is { } next)
        {
            delivered.Add(next.EventId);
            await queue.DeliveredAsync(next.Seq, t0.ToUnixTimeMilliseconds(), CancellationToken.None);
        }

        Assert.Equal(Enumerable.Range(0, 51).Select(i => $"A:e{i}"), delivered);
    }

    [Fact]
    public async Task DeliveredAndDeadLetteredRows_ArePurgedAfterTheirRetention()
    {
        var t0 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        using var queue = new WebhookQueue(Path.Combine(_directory, "webhooks.db"), t0);
        await queue.EnqueueAsync(["hook"], "A:e1", "x", [1], t0.ToUnixTimeMilliseconds(), CancellationToken.None);
        await queue.EnqueueAsync(["hook"], "A:e2", "x", [1], t0.ToUnixTimeMilliseconds(), CancellationToken.None);
        var first = await queue.NextAsync("hook", CancellationToken.None);
        await queue.DeliveredAsync(first!.Seq, t0.ToUnixTimeMilliseconds(), CancellationToken.None);
        var second = await queue.NextAsync("hook", CancellationToken.None);
        await queue.DeadLetterAsync(second!.Seq, t0.ToUnixTimeMilliseconds(), "HTTP 400", CancellationToken.None);

        Assert.Equal((0, 0), queue.Purge(t0 + WebhookQueue.KeepDelivered - TimeSpan.FromMinutes(1)));
        Assert.Equal((1, 0), queue.Purge(t0 + WebhookQueue.KeepDelivered + TimeSpan.FromMinutes(1)));
        Assert.Equal((0, 0), queue.Purge(t0 + WebhookQueue.KeepDeadLettered - TimeSpan.FromMinutes(1)));
        Assert.Equal((0, 1), queue.Purge(t0 + WebhookQueue.KeepDeadLettered + TimeSpan.FromMinutes(1)));
        Assert.Empty(queue.DeadLetters("hook"));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static (string, int) Pair(WebhookRequest request) => (request.EventId, request.AnsweredWith);

    private static AlertEvent Event(string n) => new()
    {
        Id = "A",
        EventId = $"A:{n}",
        Device = "shoe-w1",
        Kind = "shoe",
        Code = "shoe.cushioning.replace_soon",
        Severity = AlertSeverity.Warning,
        State = AlertState.Raised,
        At = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero),
        Message = "Plan a replacement.",
        Evidence = [EvidenceItem.Of("cushioning_pct", 64)],
    };

    private async Task<RunningSender> StartAsync(Uri url, Action<WebhookOptions>? configure = null)
    {
        var hook = new WebhookOptions { Url = url.ToString(), Secret = Secret, RetryFirst = TimeSpan.FromMilliseconds(50), RetryCap = TimeSpan.FromMilliseconds(200), Timeout = TimeSpan.FromSeconds(5) };
        configure?.Invoke(hook);
        var options = new WebhooksOptions { Webhooks = [hook] };
        Assert.True(new WebhooksOptionsValidator().Validate(null, options).Succeeded);
        var queue = new WebhookQueue(Path.Combine(_directory, "webhooks.db"), DateTimeOffset.UtcNow);
        var health = new ComponentHealth(TimeProvider.System);
        var sender = new WebhookSender(Options.Create(options), queue, new PlainHttpClients(), new WebhookCounters(), health,
            TimeProvider.System, NullLogger<WebhookSender>.Instance, new Random(7));
        await sender.StartAsync(CancellationToken.None);
        return new RunningSender(sender, queue, health, hook);
    }

    private static async Task<WebhookStats> WaitForStatsAsync(WebhookSender sender, Func<WebhookStats, bool> ready, string what)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(20);
        while (true)
        {
            var stats = sender.Stats()["0"];
            if (ready(stats))
            {
                return stats;
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: stats were {stats} after 20 s.");
            }

            await Task.Delay(20);
        }
    }

    private sealed record RunningSender(WebhookSender Sender, WebhookQueue Queue, ComponentHealth Health, WebhookOptions Hook) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Sender.StopAsync(CancellationToken.None);
            Sender.Dispose();
            Queue.Dispose();
        }
    }

    private sealed class PlainHttpClients : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new();
    }
}
