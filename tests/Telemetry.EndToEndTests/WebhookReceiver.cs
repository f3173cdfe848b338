using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Telemetry.EndToEndTests;

/// <summary>One request as a webhook receiver saw it.</summary>
public sealed record WebhookRequest(string EventId, string Timestamp, string Signature, string ContentType, byte[] Body, int AnsweredWith);

/// <summary>
/// A real HTTP server on a free loopback port (Kestrel) that answers webhook POSTs with the status
/// <c>answer(n, eventId)</c> gives for the n-th request (from 1), and records every request it saw.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<WebhookRequest> _requests = Channel.CreateUnbounded<WebhookRequest>();
    private int _count;

    private WebhookReceiver(Func<int, string, int> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapPost("/hook", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            var eventId = http.Request.Headers["X-Telemetry-Event-Id"].ToString();
            var status = answer(Interlocked.Increment(ref _count), eventId);
            _requests.Writer.TryWrite(new WebhookRequest(
                eventId,
                http.Request.Headers["X-Telemetry-Timestamp"].ToString(),
                http.Request.Headers["X-Telemetry-Signature"].ToString(),
                http.Request.ContentType ?? string.Empty,
                body.ToArray(),
                status));
            return Results.StatusCode(status);
        });
    }

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(Func<int, string, int> answer)
    {
        var receiver = new WebhookReceiver(answer);
        await receiver._app.StartAsync();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver.Url = new Uri(new Uri(address), "/hook");
        return receiver;
    }

    /// <summary>The next request; fails with <paramref name="what"/> after 20 s.</summary>
    public async Task<WebhookRequest> NextAsync(string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            return await _requests.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{what}: no webhook request within 20 s.");
        }
    }

    /// <summary>Whether a request is waiting now (for "nothing more came" checks after a later request arrived).</summary>
    public bool TryTake(out WebhookRequest? request) => _requests.Reader.TryRead(out request);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
