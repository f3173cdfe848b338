using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Webhooks;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The wire additions of issue 11: <c>missing</c> in acks, <c>event_id</c> in alerts, webhook signatures.</summary>
public sealed class DeliveryContractTests
{
    private static readonly AlertEvent Alert = new()
    {
        Id = "01JDALERT",
        EventId = "01JDALERT:3",
        Device = "shoe-1",
        Code = "shoe.cushioning.replace_soon",
        Severity = AlertSeverity.Warning,
        State = AlertState.Raised,
        At = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero),
        Message = "m",
        Evidence = [],
    };

    [Fact]
    public void Ack_WithoutGaps_IsTheV1Ack()
    {
        Assert.Equal("""{"boot":"b1","seq":7}""", Encoding.UTF8.GetString(ReplyJson.Ack(new MessageKey("b1", 7), [])));
    }

    [Fact]
    public void Ack_WithGaps_NamesThemAsFromToPairs()
    {
        var json = Encoding.UTF8.GetString(ReplyJson.Ack(new MessageKey("b1", 7), [new SeqRange(8, 8), new SeqRange(11, 14)]));
        Assert.Equal("""{"boot":"b1","seq":7,"missing":[[8,8],[11,14]]}""", json);
    }

    [Fact]
    public void AlertJson_CarriesTheEventId()
    {
        var json = JsonDocument.Parse(ReplyJson.Alert(Alert)).RootElement;
        Assert.Equal("01JDALERT:3", json.GetProperty("event_id").GetString());
        Assert.Equal("01JDALERT", json.GetProperty("id").GetString());
    }

    [Fact]
    public void Feed_HoldsAnEventOnce_WhenItIsDeliveredAgain()
    {
        var feed = new AlertFeed(new FakeTimeProvider(Alert.At));
        var first = feed.Add(Alert);
        var again = feed.Add(Alert);
        feed.Add(Alert with { EventId = "01JDALERT:4", State = AlertState.Acknowledged });

        Assert.Equal(first, again);
        Assert.Equal(["01JDALERT:3", "01JDALERT:4"], feed.Since(null).Events.Select(e => e.Alert.EventId));
    }

    [Fact]
    public void Signature_CoversTimestampAndBody()
    {
        var body = ReplyJson.Alert(Alert);
        var signature = WebhookSignature.Sign("0123456789abcdef", 1_795_428_000, body);

        Assert.StartsWith("sha256=", signature, StringComparison.Ordinal);
        Assert.Equal(71, signature.Length);
        Assert.True(WebhookSignature.Verify("0123456789abcdef", "1795428000", body, signature));
        Assert.False(WebhookSignature.Verify("0123456789abcdef", "1795428001", body, signature));
        Assert.False(WebhookSignature.Verify("another-secret-xx", "1795428000", body, signature));
        body[^2] ^= 1;
        Assert.False(WebhookSignature.Verify("0123456789abcdef", "1795428000", body, signature));
    }

    [Fact]
    public void WebhookOptions_AreCheckedAtStart()
    {
        var result = new WebhooksOptionsValidator().Validate(null, new WebhooksOptions
        {
            Webhooks = [new WebhookOptions { Url = "ftp://example.org/x", Secret = "" }, new WebhookOptions { Url = "https://cs.example.org/hook", Secret = "0123456789abcdef" }],
        });

        Assert.True(result.Failed);
        Assert.Contains("Alerts:Webhooks:0:Url", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Alerts:Webhooks:0:Secret", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("Alerts:Webhooks:1", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void WebhookIdentity_IsTheNameOrAHashOfTheUrl_NeverTheIndex_AndUnique()
    {
        Assert.Equal("service-desk", new WebhookOptions { Name = "service-desk", Url = "https://cs.example.org/hook" }.Identity());
        var derived = new WebhookOptions { Url = "https://CS.example.org/hook?token=abc" }.Identity();
        Assert.Matches("^url:[0-9a-f]{16}$", derived);
        Assert.Equal(derived, new WebhookOptions { Url = "https://cs.example.org/hook?token=abc" }.Identity());
        Assert.NotEqual(derived, new WebhookOptions { Url = "https://cs.example.org/other?token=abc" }.Identity());

        var result = new WebhooksOptionsValidator().Validate(null, new WebhooksOptions
        {
            Webhooks =
            [
                new WebhookOptions { Url = "https://cs.example.org/hook", Secret = "0123456789abcdef" },
                new WebhookOptions { Url = "https://cs.example.org/hook", Secret = "0123456789abcdef" },
                new WebhookOptions { Name = "desk", Url = "https://a.example.org/hook", Secret = "0123456789abcdef" },
                new WebhookOptions { Name = "desk", Url = "https://b.example.org/hook", Secret = "0123456789abcdef" },
                new WebhookOptions { Name = "url:1234", Url = "https://c.example.org/hook", Secret = "0123456789abcdef" },
            ],
        });

        Assert.True(result.Failed);
        Assert.Contains("Alerts:Webhooks:1 has the same Url as Alerts:Webhooks:0", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Alerts:Webhooks:3:Name 'desk' is already the name of Alerts:Webhooks:2", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Alerts:Webhooks:4:Name must be", result.FailureMessage, StringComparison.Ordinal);
        Assert.Equal(3, result.Failures!.Count());
    }

    [Fact]
    public void WebhookCodes_AreGlobs_AndAbsentMeansAll()
    {
        Assert.True(new WebhookOptions().Wants("shoe.cushioning.replace_soon"));
        var bands = new WebhookOptions { Codes = ["band.*", "shoe.delamination_suspected"] };
        Assert.True(bands.Wants("band.battery.degraded"));
        Assert.True(bands.Wants("shoe.delamination_suspected"));
        Assert.False(bands.Wants("shoe.cushioning.replace_soon"));
    }
}
