using System.Text;
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
        Assert.Equal(new WebhookStats { Delivered = 3, DeliveredAfterRetry = 1, FailedAttempts = 3, DeadLettered = 0, DeadLetterHeld = 0, Pending = 0 }, stats);
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
        Assert.Equal(new WebhookStats { Delivered = 1, DeliveredAfterRetry = 0, FailedAttempts = 1, DeadLettered = 1, DeadLetterHeld = 1, Pending = 0 }, stats);
        Assert.Equal([("A:bad", "HTTP 400")], sender.Queue.DeadLetters(0));
        Assert.False(receiver.TryTake(out _), "a dead-lettered event must not be sent again");
    }

    [Fact]
    public async Task AnEventStillFailingAfterGiveUpAfter_IsDeadLettered()
    {
        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 503);
        await using var sender = await StartAsync(receiver.Url, hook => hook.GiveUpAfter = TimeSpan.FromMilliseconds(400));
        await sender.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);

        var stats = await WaitForStatsAsync(sender.Sender, s => s.DeadLettered == 1, "dead-lettered after 400 ms");
        Assert.True(stats.FailedAttempts >= 2, $"retried before giving up ({stats.FailedAttempts} attempts)");
        Assert.Equal(0, stats.Pending);
        var (eventId, reason) = Assert.Single(sender.Queue.DeadLetters(0));
        Assert.Equal("A:e1", eventId);
        Assert.StartsWith("not delivered within", reason, StringComparison.Ordinal);
        Assert.Contains("webhooks/0", sender.Health.Failing().Keys);
    }

    [Fact]
    public async Task TheQueue_SurvivesARestartOfTheSender_AndARepeatOfADeliveredEventIsNotSentAgain()
    {
        // Nothing listens on the first URL: every attempt is a refused connection, retried.
        var nowhere = new Uri("http://127.0.0.1:9/hook");
        await using (var first = await StartAsync(nowhere))
        {
            await first.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);
            await first.Sender.EnqueueAsync(Event("e2"), ReplyJson.Alert(Event("e2")), CancellationToken.None);
            await WaitForStatsAsync(first.Sender, s => s.FailedAttempts >= 1 && s.Pending == 2, "a failed attempt with both pending");
        }

        await using var receiver = await WebhookReceiver.StartAsync((_, _) => 200);
        await using var second = await StartAsync(receiver.Url);
        Assert.Equal("A:e1", (await receiver.NextAsync("the first event after the restart")).EventId);
        Assert.Equal("A:e2", (await receiver.NextAsync("the second event after the restart")).EventId);

        // A twin retrying its outbox queues e1 again: the queue knows it, so only e3 goes out.
        await second.Sender.EnqueueAsync(Event("e1"), ReplyJson.Alert(Event("e1")), CancellationToken.None);
        await second.Sender.EnqueueAsync(Event("e3"), ReplyJson.Alert(Event("e3")), CancellationToken.None);
        Assert.Equal("A:e3", (await receiver.NextAsync("the new event")).EventId);
        Assert.Equal(2 + 1, (await WaitForStatsAsync(second.Sender, s => s.Delivered == 3, "three delivered")).Delivered);
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
        return new RunningSender(sender, queue, health);
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

    private sealed record RunningSender(WebhookSender Sender, WebhookQueue Queue, ComponentHealth Health) : IAsyncDisposable
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
