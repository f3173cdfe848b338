using System.Text.Json;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>The twin is kept in the SQLite store under the data directory and survives a restart.</summary>
public sealed class RestartEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task Twin_IsUnchangedAfterARestart_AndAResendIsStillADuplicate()
    {
        const string id = "shoe-restart-1";
        var payload = TestDevice.Vector("valid/telemetry-shoe-run.json");
        await using (var device = await service.DeviceAsync(id, $"devices/{id}/ack"))
        {
            await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);
            await device.PublishAsync($"devices/{id}/telemetry", payload);
            await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
        }

        var before = await TwinAsync(id);
        await service.RestartAsync();
        var after = await TwinAsync(id);

        Assert.Equal(Strip(before), Strip(after));
        Assert.Equal(5.0123, after.GetProperty("totals").GetProperty("distance_km").GetDouble(), 6);

        // The last acked (boot, seq) survived too: the same message again is a duplicate, acked but not applied.
        await using var again = await service.DeviceAsync(id, $"devices/{id}/ack");
        await again.PublishAsync($"devices/{id}/telemetry", payload);
        await again.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of the resend");
        var totals = (await TwinAsync(id)).GetProperty("totals");
        Assert.Equal(5.0123, totals.GetProperty("distance_km").GetDouble(), 6);
        Assert.Equal(1, totals.GetProperty("duplicate_messages").GetInt64());
    }

    [Fact]
    public async Task QualityExposureAndFailures_SurviveARestart()
    {
        const string id = "shoe-restart-quality";
        // The failure first (saved at once), then the exposure, which the batch grain saves on its own schedule.
        using (var post = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/quality/events", UriKind.Relative))
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { device = id, model = "restart-run", batch = "2026w01-r", failure_mode = "delamination", kind = "repair" }),
        })
        {
            post.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
            using var accepted = await service.Http.SendAsync(post);
            Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);
        }

        await using (var device = await service.DeviceAsync(id, $"devices/{id}/ack"))
        {
            await device.PublishAsync($"devices/{id}/birth", System.Text.Encoding.UTF8.GetBytes(
                """{"v":1,"kind":"shoe","model":"restart-run","batch":"2026w01-r","firmware":"1","manufactured":"2026-01-05"}"""), retain: true);
            await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
            await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
        }

        var before = await RateAsync(r => r.GetProperty("devices").GetInt64() == 1 && r.GetProperty("failures").GetInt64() == 1);
        await service.RestartAsync();
        var after = await RateAsync(_ => true);

        Assert.Equal(before.GetRawText(), after.GetRawText());
        Assert.Equal(5.0, after.GetProperty("device_km").GetDouble(), 1);
    }

    [Fact]
    public async Task ABatchStatus_IsRetainedOnTheBrokerAgainAfterARestart()
    {
        // Two devices of one batch both returned, among ten of another that none was: the first is on watch.
        const string model = "restart-retain";
        var devices = Enumerable.Range(0, 12).Select(i => (Id: $"shoe-retain-{i:D2}", Batch: i < 2 ? "2026w02-w" : "2026w02-b")).ToList();
        foreach (var (id, batch) in devices)
        {
            await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
            await device.PublishAsync($"devices/{id}/birth", System.Text.Encoding.UTF8.GetBytes(
                $$"""{"v":1,"kind":"shoe","model":"{{model}}","batch":"{{batch}}","firmware":"1","manufactured":"2026-01-05"}"""), retain: true);
            await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
            await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
        }

        await RatesAsync(model, rows => rows.EnumerateArray().Where(r => r.GetProperty("failure_mode").GetString() == "delamination")
            .Sum(r => r.GetProperty("devices").GetInt64()) == 12, "12 devices in service");
        await using (var watcher = await service.WatcherAsync("retain-watcher-1", MQTTnet.Formatter.MqttProtocolVersion.V500, $"quality/{model}/#"))
        {
            foreach (var (id, batch) in devices.Take(2))
            {
                using var post = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/quality/events", UriKind.Relative))
                {
                    Content = System.Net.Http.Json.JsonContent.Create(new { device = id, model, batch, failure_mode = "delamination", kind = "return" }),
                };
                post.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
                using var accepted = await service.Http.SendAsync(post);
                Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);
            }

            await watcher.ReceiveAsync($"quality/{model}/2026w02-w", q => q.GetProperty("status").GetString() == "watch", "the batch on watch");
        }

        // The embedded broker keeps retained messages in memory: without publishing them again, a consumer that
        // subscribes after the restart would hear nothing of the batch until its status next changes.
        await service.RestartAsync();
        await using var later = await service.WatcherAsync("retain-watcher-2", MQTTnet.Formatter.MqttProtocolVersion.V500, $"quality/{model}/#");
        var retained = await later.ReceiveAsync($"quality/{model}/2026w02-w", q => q.GetProperty("status").GetString() == "watch", "the batch's status, retained again");
        Assert.True(retained.GetProperty("republished").GetBoolean());
        var delamination = retained.GetProperty("failure_modes").EnumerateArray().Single(r => r.GetProperty("failure_mode").GetString() == "delamination");
        Assert.Equal((2, 2), (delamination.GetProperty("devices").GetInt64(), delamination.GetProperty("failures").GetInt64()));
    }

    [Fact]
    public async Task AnAlertIndexThatLostItsState_IsRefilledByTheDeviceWhenItNextActivates()
    {
        const string id = "shoe-restart-index";
        await using (var watcher = await service.WatcherAsync("restart-index-watcher", MQTTnet.Formatter.MqttProtocolVersion.V500, $"alerts/{id}"))
        {
            await service.CrossCushioningThresholdAsync(id);
            await watcher.ReceiveAsync($"alerts/{id}", a => a.GetProperty("state").GetString() == "raised", "the raised alert");
        }

        // The twin is told its event got through once the index has written it; until then it keeps the event, and would
        // hand it over again at the next start whatever the index holds.
        await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("alert_delivery").GetProperty("awaiting_confirmation").GetInt64() == 0
            && s.GetProperty("alert_delivery").GetProperty("pending").GetInt64() == 0 && s.GetProperty("alert_delivery").GetProperty("delivered").GetInt64() >= 1,
            "the twin told its raised event got through");

        // As if the service had crashed before the written-behind index reached the disk.
        await service.RestartAsync(() =>
        {
            using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(service.DataDirectory, "twins.db")};Pooling=false");
            db.Open();
            using var delete = db.CreateCommand();
            delete.CommandText = "DELETE FROM grain_state WHERE state_name = 'alert-index'";
            Assert.Equal(1, delete.ExecuteNonQuery());
        });
        Assert.Equal("[]", await service.Http.GetStringAsync(new Uri($"/api/alerts?device={id}", UriKind.Relative)));

        await using (var device = await service.DeviceAsync(id, $"devices/{id}/ack"))
        {
            await device.PublishAsync($"devices/{id}/telemetry", System.Text.Encoding.UTF8.GetBytes(
                $$$"""{"v":1,"boot":"again","seq":0,"readings":[{"ts":{{{DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds()}}},"m":{"distance_m":1000}}]}"""));
            await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("boot").GetString() == "again", "the ack");
        }

        var listed = await service.WaitForJsonAsync($"/api/alerts?device={id}", a => a.GetArrayLength() == 1, "the alert back in the index");
        Assert.Equal("shoe.cushioning.replace_soon", listed[0].GetProperty("code").GetString());
    }

    /// <summary>The delamination row of restart-run/2026w01-r once <paramref name="ready"/> holds (exposure arrives one-way).</summary>
    private async Task<JsonElement> RateAsync(Func<JsonElement, bool> ready)
    {
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); ;)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/quality/defect-rates?model=restart-run&failure_mode=delamination", UriKind.Relative));
            request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
            using var response = await service.Http.SendAsync(request);
            var rows = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            if (rows.GetArrayLength() == 1 && ready(rows[0]))
            {
                return rows[0].Clone();
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"the defect-rate row never became ready: {rows}");
            await Task.Delay(50);
        }
    }

    /// <summary>A model's defect-rate rows once <paramref name="ready"/> holds (exposure arrives one-way).</summary>
    private async Task<JsonElement> RatesAsync(string model, Func<JsonElement, bool> ready, string what)
    {
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(30); ;)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/api/quality/defect-rates?model={model}", UriKind.Relative));
            request.Headers.Add("X-Api-Key", ServiceFixture.ApiKey);
            using var response = await service.Http.SendAsync(request);
            var rows = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            if (ready(rows))
            {
                return rows.Clone();
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"{what}: never; last {rows}");
            await Task.Delay(50);
        }
    }

    private async Task<JsonElement> TwinAsync(string id) =>
        JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;

    /// <summary>The twin without the connection-dependent last_seen, which a reconnect may move.</summary>
    private static string Strip(JsonElement twin)
    {
        var copy = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(twin.GetRawText())!;
        copy.Remove("last_seen");
        return JsonSerializer.Serialize(copy);
    }
}
