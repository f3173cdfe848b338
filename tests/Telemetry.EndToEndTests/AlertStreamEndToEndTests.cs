using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>GET /api/alerts/stream: Server-Sent Events of every alert change, resumable with Last-Event-ID.</summary>
public sealed class AlertStreamEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task StreamDeliversChanges_AndAReconnectWithLastEventIdGetsOnlyWhatItMissed()
    {
        string lastId;
        string alertId;
        using (var first = await OpenAsync(null))
        {
            await RaiseAsync("shoe-sse-1");
            var (id, raised) = await NextAlertAsync(first, "shoe-sse-1");
            Assert.Equal("raised", raised.GetProperty("state").GetString());
            (lastId, alertId) = (id, raised.GetProperty("id").GetString()!);
        }

        // While the client is away, the alert is acknowledged.
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/api/alerts/{alertId}/ack", UriKind.Relative))
        {
            Content = new StringContent("{\"actor\":\"agent-3\"}", Encoding.UTF8, "application/json"),
        })
        {
            request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
            (await service.Http.SendAsync(request)).EnsureSuccessStatusCode();
        }

        using var resumed = await OpenAsync(lastId);
        var (resumedId, missed) = await NextAlertAsync(resumed, "shoe-sse-1");
        Assert.Equal(("acknowledged", alertId), (missed.GetProperty("state").GetString(), missed.GetProperty("id").GetString()));
        Assert.True(long.Parse(resumedId, CultureInfo.InvariantCulture) > long.Parse(lastId, CultureInfo.InvariantCulture));
    }

    private async Task<StreamReader> OpenAsync(string? lastEventId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/alerts/stream", UriKind.Relative));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await service.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new StreamReader(await response.Content.ReadAsStreamAsync());
    }

    /// <summary>Reads events until one for <paramref name="device"/>; returns its id and payload.</summary>
    private static async Task<(string Id, JsonElement Alert)> NextAlertAsync(StreamReader stream, string device)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? id = null;
        while (await stream.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var alert = JsonDocument.Parse(line[6..]).RootElement;
                if (alert.GetProperty("device").GetString() == device)
                {
                    return (id!, alert);
                }
            }
        }

        throw new InvalidOperationException("the stream ended");
    }

    private Task RaiseAsync(string id) => service.CrossCushioningThresholdAsync(id);
}
