using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Webhooks;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// Review of issue #11: the durable webhook queue names a webhook by its position in <c>Alerts:Webhooks</c>, and a
/// queued event carries only that position. When the configuration changes between runs (a customer's webhook is
/// removed, so the next one moves up to its index), the events still pending for the removed webhook are sent,
/// signed with the other customer's secret, to the other customer's system, and its <c>Codes</c> filter is never
/// applied to them.
/// </summary>
public sealed class ReviewWebhookConfigTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-review-webhooks-").FullName;

    [Fact]
    public async Task PendingEventsOfARemovedWebhook_AreNotSentToTheWebhookThatTakesItsIndex()
    {
        // Run 1: customer A's webhook (index 0) is down; an alert waits in the queue for it.
        var customerA = new WebhookOptions { Url = "http://127.0.0.1:9/customer-a", Secret = "secret-of-customer-a", RetryFirst = TimeSpan.FromMilliseconds(50), RetryCap = TimeSpan.FromMilliseconds(200) };
        await using (var first = await StartAsync(customerA))
        {
            var alert = Event("a-only");
            await first.Sender.EnqueueAsync(alert, ReplyJson.Alert(alert), CancellationToken.None);
            await WaitAsync(() => first.Sender.Stats()["0"] is { FailedAttempts: >= 1, Pending: 1 }, "a failed attempt with the event pending");
        }

        // Run 2: A was removed from the configuration; customer B, who wants only battery alerts, is now index 0.
        await using var receiverB = await WebhookReceiver.StartAsync((_, _) => 200);
        var customerB = new WebhookOptions { Url = receiverB.Url.ToString(), Secret = "secret-of-customer-b", Codes = ["battery.*"], RetryFirst = TimeSpan.FromMilliseconds(50), RetryCap = TimeSpan.FromMilliseconds(200) };
        await using var second = await StartAsync(customerB);

        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(receiverB.TryTake(out var leaked),
            $"customer B received {leaked?.EventId}, an event queued for customer A's webhook (code shoe.*, outside B's Codes filter)");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

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

    private static async Task WaitAsync(Func<bool> done, string what)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(20);
        while (!done())
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException(what);
            }

            await Task.Delay(20);
        }
    }

    private async Task<Running> StartAsync(WebhookOptions hook)
    {
        var options = new WebhooksOptions { Webhooks = [hook] };
        Assert.True(new WebhooksOptionsValidator().Validate(null, options).Succeeded);
        var queue = new WebhookQueue(Path.Combine(_directory, "webhooks.db"), DateTimeOffset.UtcNow);
        var sender = new WebhookSender(Options.Create(options), queue, new PlainHttpClients(), new WebhookCounters(), new ComponentHealth(TimeProvider.System),
            TimeProvider.System, NullLogger<WebhookSender>.Instance, new Random(7));
        await sender.StartAsync(CancellationToken.None);
        return new Running(sender, queue);
    }

    private sealed record Running(WebhookSender Sender, WebhookQueue Queue) : IAsyncDisposable
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
