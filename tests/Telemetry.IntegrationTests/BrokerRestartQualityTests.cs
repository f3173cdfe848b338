using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// A Mosquitto that comes back after 30 s without its retained messages (killed before its autosave, or its store
/// lost) gets a batch's quality status again from the service, once the service's publisher has reconnected.
/// </summary>
public sealed class BrokerRestartQualityTests(ProductionServers stack) : IClassFixture<ProductionServers>
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task MosquittoKilledFor30sAndItsStoreLost_HasTheBatchStatusRetainedAgain_MarkedRepublished()
    {
        // Two devices of one batch both returned, among ten of another that none was: the first is on watch.
        const string model = "brk-1";
        var batches = ProductionServers.Devices.Where(d => d.StartsWith("victim-", StringComparison.Ordinal)).Take(2).Select(d => (Id: d, Batch: "2026w03-w"))
            .Concat(ProductionServers.Devices.Where(d => d.StartsWith("sys-", StringComparison.Ordinal)).Take(10).Select(d => (Id: d, Batch: "2026w03-b")))
            .ToList();
        var baseMs = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        foreach (var (id, batch) in batches)
        {
            await using var device = stack.Device(id);
            await device.ConnectAsync();
            await device.PublishBirthAsync(model, batch);
            await device.SendNextAsync(baseMs);
            await device.WaitAllAckedAsync(Within, TimeSpan.FromSeconds(2));
        }

        await RatesAsync(model, rows => rows.EnumerateArray().Where(r => r.GetProperty("failure_mode").GetString() == "delamination")
            .Sum(r => r.GetProperty("devices").GetInt64()) == 12, "12 devices in service");
        await using (var reader = await ReaderAsync("quality-reader-1"))
        {
            foreach (var (id, batch) in batches.Take(2))
            {
                using var posted = await stack.Service.Http.PostAsJsonAsync(new Uri("api/quality/events", UriKind.Relative),
                    new { device = id, model, batch, failure_mode = "delamination", kind = "return" });
                Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
            }

            await reader.WaitForAsync(m => m.Topic == $"quality/{model}/2026w03-w" && Status(m) == "watch", Within, "the batch on watch");
        }

        await stack.Mosquitto.StopAsync(kill: true);
        var outageEnds = DateTimeOffset.UtcNow.AddSeconds(30);
        foreach (var store in Directory.EnumerateFiles(stack.Mosquitto.Directory, "*.db", SearchOption.AllDirectories))
        {
            File.Delete(store);
        }

        // Gone for 30 s: the service says so on /health and keeps answering its API meanwhile.
        for (var deadline = DateTimeOffset.UtcNow.Add(Within); ;)
        {
            // 503 while a component is unhealthy; the body says which and why.
            using var answer = await stack.Service.Http.GetAsync(new Uri("health", UriKind.Relative));
            var health = await answer.Content.ReadAsStringAsync();
            if (health.Contains("cannot reach the broker", StringComparison.Ordinal))
            {
                break;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"/health never said the broker was gone: {health}");
            await Task.Delay(200);
        }

        await Task.Delay(outageEnds - DateTimeOffset.UtcNow is { Ticks: > 0 } rest ? rest : TimeSpan.Zero);
        await RatesAsync(model, rows => rows.EnumerateArray().Any(r => r.GetProperty("batch").GetString() == "2026w03-w"
            && r.GetProperty("failure_mode").GetString() == "delamination" && r.GetProperty("status").GetString() == "watch"), "the batch on watch during the outage");

        await stack.Mosquitto.StartAsync();
        // The reader may be there before the service's publisher has reconnected (then it hears the republication
        // live) or after (then as retained); either way a reader that comes later must get it retained.
        await using (var later = await ReaderAsync("quality-reader-2"))
        {
            await later.WaitForAsync(m => m.Topic == $"quality/{model}/2026w03-w" && Status(m) == "watch" && Republished(m), Within, "the batch's status again");
        }

        await using var last = await ReaderAsync("quality-reader-3");
        await last.WaitForAsync(m => m.Topic == $"quality/{model}/2026w03-w" && m.Retained && Status(m) == "watch" && Republished(m), Within, "the batch's status, retained");
    }

    private static bool Republished(MqttProbe.ReceivedMessage message) =>
        JsonDocument.Parse(message.Payload).RootElement.TryGetProperty("republished", out var flag) && flag.GetBoolean();

    private static string? Status(MqttProbe.ReceivedMessage message) =>
        JsonDocument.Parse(message.Payload).RootElement.GetProperty("status").GetString();

    private async Task<MqttProbe> ReaderAsync(string clientId)
    {
        var reader = new MqttProbe(stack.Mosquitto.Port, MosquittoServer.ReaderUser, MosquittoServer.ReaderPassword, clientId);
        await reader.ConnectAsync();
        await reader.SubscribeAsync("quality/#");
        return reader;
    }

    /// <summary>A model's defect-rate rows once <paramref name="ready"/> holds (exposure arrives one-way).</summary>
    private async Task RatesAsync(string model, Func<JsonElement, bool> ready, string what)
    {
        for (var deadline = DateTimeOffset.UtcNow.Add(Within); ;)
        {
            var rows = JsonDocument.Parse(await stack.Service.Http.GetStringAsync(new Uri($"api/quality/defect-rates?model={model}", UriKind.Relative))).RootElement;
            if (ready(rows))
            {
                return;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"{what}: never; last {rows}");
            await Task.Delay(100);
        }
    }
}
