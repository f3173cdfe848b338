using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MQTTnet.Formatter;
using Telemetry.Tests.Vectors;
using Xunit;

namespace Telemetry.EndToEndTests;

public sealed class UplinkEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task Telemetry_IsAckedAndShowsUpInTheTwin()
    {
        const string id = "shoe-e2e-1";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));

        var ack = await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
        Assert.Equal("b7f3a2", ack.GetProperty("boot").GetString());

        var twin = await GetTwinAsync(id);
        Assert.Equal("aerorun-3", twin.GetProperty("birth").GetProperty("model").GetString());
        Assert.Equal(5.0123, twin.GetProperty("totals").GetProperty("distance_km").GetDouble(), 6);
        Assert.Equal(4310, twin.GetProperty("totals").GetProperty("steps").GetInt64());
        Assert.NotEqual(JsonValueKind.Undefined, twin.GetProperty("wear").GetProperty("cushioning_pct").ValueKind);

        // Without Influx:Url the readings are in today's line-protocol file, tagged from the birth, before the ack.
        var stored = Directory.GetFiles(Path.Combine(service.DataDirectory, "lines"), "*.lp").SelectMany(File.ReadLines)
            .Where(l => l.StartsWith($"shoe,device={id},", StringComparison.Ordinal)).ToList();
        Assert.Matches(
            """^shoe,device=shoe-e2e-1,model=aerorun-3,batch=2025w28-sz2 distance_m=5012\.3,duration_s=1510,steps=4310i,.*,battery_pct=81,boot="b7f3a2",seq=0i \d{13}$""",
            Assert.Single(stored));
    }

    [Fact]
    public async Task ResentMessage_IsAckedAgainAndNotAppliedTwice()
    {
        const string id = "shoe-e2e-2";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        var payload = TestDevice.Vector("valid/telemetry-shoe-run.json");
        await device.PublishAsync($"devices/{id}/telemetry", payload);
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "first ack");

        await device.PublishAsync($"devices/{id}/telemetry", payload);
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of the resend");

        var totals = (await GetTwinAsync(id)).GetProperty("totals");
        Assert.Equal(5.0123, totals.GetProperty("distance_km").GetDouble(), 6);
        Assert.Equal(1, totals.GetProperty("messages").GetInt64());
        Assert.Equal(1, totals.GetProperty("duplicate_messages").GetInt64());
    }

    [Fact]
    public async Task AChargeCountFurtherAheadThanABandCanCharge_IsAckedAndStored_ButNotAppliedToTheTwin_AndIsCounted()
    {
        const string id = "band-e2e-count";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-band.json"), retain: true);
        var before = (await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "the stats")).GetProperty("charge_counts_ignored").GetInt64();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        await device.PublishAsync($"devices/{id}/telemetry", Summary(0, now - 60_000, 120, 290.5));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of the real count");
        // Valid on its own (the catalogue allows up to 1,000,000), so acked without an error; a minute after 120 it cannot be.
        await device.PublishAsync($"devices/{id}/telemetry", Summary(1, now - 30_000, 1_000_000, 290.25));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 1, "ack of the absurd count");

        var stats = await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("charge_counts_ignored").GetInt64() > before, "the absurd count counted");
        Assert.Equal(before + 1, stats.GetProperty("charge_counts_ignored").GetInt64());
        var twin = await GetTwinAsync(id);
        Assert.Equal(120, twin.GetProperty("totals").GetProperty("charge_cycles").GetInt64());
        Assert.Equal(2, twin.GetProperty("totals").GetProperty("messages").GetInt64());

        static byte[] Summary(int seq, long ts, long cycles, double mah) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$$"""{"v":1,"boot":"c02","seq":{{{seq}}},"readings":[{"ts":{{{ts}}},"m":{"capacity_mah":{{{mah}}},"charge_cycles":{{{cycles}}},"fault_code":0}}]}"""));
    }

    [Fact]
    public async Task MalformedMessage_GetsItsReasonOnTheErrorsTopic()
    {
        const string id = "shoe-e2e-3";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/errors");
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("invalid/malformed-json.json"));

        var error = await device.ReceiveAsync($"devices/{id}/errors", _ => true, "error report");
        Assert.Equal("malformed_json", error.GetProperty("reason").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task RejectedReading_IsReportedWithItsIndexAndTheRestIsAcked()
    {
        const string id = "shoe-e2e-4";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/errors", $"devices/{id}/ack");
        // The vector's seq is 10; as the first message of a boot it must be seq 0 to be acked.
        var payload = Encoding.UTF8.GetString(TestDevice.Vector("invalid/value-out-of-range.json")).Replace("\"seq\":10", "\"seq\":0", StringComparison.Ordinal);
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes(payload));

        var error = await device.ReceiveAsync($"devices/{id}/errors", _ => true, "error report");
        Assert.Equal(("value_out_of_range", 1, 0u), (error.GetProperty("reason").GetString(), error.GetProperty("reading").GetInt32(), error.GetProperty("seq").GetUInt32()));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
    }

    [Fact]
    public async Task CrossingTheCushioningThreshold_PublishesOneAlert()
    {
        const string id = "shoe-e2e-5";
        // Connects as `mosquitto_sub -u watcher -P ... -t 'alerts/#'` does by default: MQTT 3.1.1, no client id, clean session.
        await using var consumer = await service.WatcherAsync(string.Empty, MqttProtocolVersion.V311, "alerts/#");
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);

        // Four 45 km outings: 180 km for a 72 kg runner is just under 70% cushioning (Cook et al.).
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var readings = string.Join(',', Enumerable.Range(0, 4).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $$$"""{"ts":{{{now - ((4 - i) * 86_400_000L)}}},"m":{"distance_m":45000,"duration_s":14000,"steps":40000}}""")));
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"e2e","seq":0,"readings":[{{readings}}]}"""));

        var alert = await consumer.ReceiveAsync($"alerts/{id}", _ => true, "alert");
        Assert.Equal("shoe.cushioning.replace_soon", alert.GetProperty("code").GetString());
        Assert.Equal(("warning", "raised", "aerorun-3"), (alert.GetProperty("severity").GetString(), alert.GetProperty("state").GetString(), alert.GetProperty("model").GetString()));
        Assert.Equal(180, alert.GetProperty("evidence").GetProperty("distance_km").GetDouble());
        Assert.InRange(alert.GetProperty("evidence").GetProperty("cushioning_pct").GetDouble(), 60, 70);
        Assert.StartsWith("Cushioning is at about", alert.GetProperty("message").GetString());
        // The learned model gives the remaining distance with its 80% interval, and says which model it was.
        var evidence = alert.GetProperty("evidence");
        Assert.Equal("shoe-fasttree-1", evidence.GetProperty("model_version").GetString());
        Assert.Matches(" km(; |$)", evidence.GetProperty("drivers").GetString()!);
        Assert.InRange(evidence.GetProperty("remaining_km").GetDouble(),
            evidence.GetProperty("remaining_km_p10").GetDouble(), evidence.GetProperty("remaining_km_p90").GetDouble());

        var listed = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/alerts?device={id}", UriKind.Relative))).RootElement;
        Assert.Equal(alert.GetProperty("id").GetString(), Assert.Single(listed.EnumerateArray()).GetProperty("id").GetString());

        // The same event is a point of the maintenance_alert measurement.
        var stored = Directory.GetFiles(Path.Combine(service.DataDirectory, "lines")).SelectMany(File.ReadLines)
            .Where(l => l.StartsWith($"maintenance_alert,device={id},", StringComparison.Ordinal)).ToList();
        Assert.Matches(
            $"^maintenance_alert,device={id},kind=shoe,model=aerorun-3,batch=2025w28-sz2,code=shoe\\.cushioning\\.replace_soon,severity=warning,state=raised id=\"{alert.GetProperty("id").GetString()}\",message=\"Cushioning is at about .*,distance_km=180,.*",
            Assert.Single(stored));
    }

    [Fact]
    public async Task ClientWithoutAnId_GetsOneAssigned()
    {
        // MQTT 5 clients (mosquitto_sub -V mqttv5) leave the id empty and read the assigned one from CONNACK.
        await using var consumer = await service.WatcherAsync(string.Empty, MqttProtocolVersion.V500, "alerts/#");

        Assert.StartsWith("auto.", consumer.AssignedClientId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mqtt311ConnectWithoutAnId_ForAPersistentSession_IsRefused()
    {
        // MQTT 3.1.1 §3.1.3.1 allows an empty id only with a clean session. Raw bytes, because MQTTnet's client
        // refuses to send this CONNECT at all. MQTTnet's broker closes the connection instead of answering
        // CONNACK 0x02; either way no session is created.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, service.MqttPort);
        var stream = tcp.GetStream();
        byte[] user = [.. Encoding.UTF8.GetBytes(ServiceFixture.Watcher.User)];
        byte[] password = [.. Encoding.UTF8.GetBytes(ServiceFixture.Watcher.Password)];
        byte[] variable = [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0xC0, 0, 60, 0, 0,
            0, (byte)user.Length, .. user, 0, (byte)password.Length, .. password];
        await stream.WriteAsync((byte[])[0x10, (byte)variable.Length, .. variable]);

        var connack = new byte[4];
        var read = await stream.ReadAtLeastAsync(connack, 4, throwOnEndOfStream: false);

        Assert.True(read == 0 || connack[3] != 0, $"the broker accepted the connection: {Convert.ToHexString(connack)}");
    }

    [Fact]
    public async Task DevicePublishingAsAnotherDevice_IsRefusedWith0x87_AndNothingIsStored()
    {
        const string id = "shoe-e2e-7";
        const string victim = "shoe-e2e-victim";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");

        var result = await device.PublishAsync($"devices/{victim}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));

        Assert.Equal(MQTTnet.MqttClientPublishReasonCode.NotAuthorized, result.ReasonCode);
        // The device's own message after it is processed, so the refused one would have been too.
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
        await device.ReceiveAsync($"devices/{id}/ack", _ => true, "ack of its own message");
        using var twin = await service.Http.GetAsync(new Uri($"/api/devices/{victim}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, twin.StatusCode);
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(service.DataDirectory, "lines")).SelectMany(File.ReadLines),
            l => l.Contains(victim, StringComparison.Ordinal));
    }

    [Fact]
    public async Task CborTelemetry_IsAckedByContentTypeOnMqtt5_AndByTopicOnMqtt311()
    {
        const string id = "shoe-e2e-cbor";
        var token = Ingest.Broker.DeviceCredentials.Token(id, ServiceFixture.DeviceSecret);
        await using var mqtt5 = await service.DeviceAsync(id, $"devices/{id}/ack", $"devices/{id}/errors");
        // Firmware on MQTT 3.1.1 cannot send a content type; here it is the device's second connection, {id}.{suffix}.
        await using var mqtt311 = await TestDevice.ConnectAsync(service.MqttPort, $"{id}.v311", MqttProtocolVersion.V311, (id, token), $"devices/{id}/ack");
        // Seq 0 and 1 of boot b7f3a2: the CBOR twins of the one-run and the twenty-run vectors.
        var first = CborTwin.FromJson(TestDevice.Vector("valid/telemetry-shoe-run.json"));
        var second = CborTwin.FromJson(TestDevice.Vector("valid/telemetry-shoe-20.json"));

        var published = await mqtt5.PublishAsync($"devices/{id}/telemetry", first, contentType: "application/cbor");
        await mqtt5.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of the CBOR message sent with its content type");
        await mqtt311.PublishAsync($"devices/{id}/telemetry/cbor", second);
        var ack = await mqtt311.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 1, "ack of the CBOR message sent on telemetry/cbor");

        Assert.Equal(MQTTnet.MqttClientPublishReasonCode.Success, published.ReasonCode);
        Assert.Equal("b7f3a2", ack.GetProperty("boot").GetString());
        Assert.Equal(2, (await GetTwinAsync(id)).GetProperty("totals").GetProperty("messages").GetInt64());
        var stored = Directory.GetFiles(Path.Combine(service.DataDirectory, "lines"), "*.lp").SelectMany(File.ReadLines)
            .Where(l => l.StartsWith($"shoe,device={id} ", StringComparison.Ordinal)).ToList();
        Assert.Equal(21, stored.Count);
        Assert.Contains(stored, l => l.Contains("distance_m=5012.3,duration_s=1510,steps=4310i,impact_g=9.8,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CborTelemetryThatIsNotCbor_GetsTheJsonReasonsOnTheErrorsTopic()
    {
        const string id = "shoe-e2e-cbor-bad";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/errors", $"devices/{id}/ack");

        // JSON sent as CBOR: 0x7B ('{') is a CBOR text string of 27 bytes, not a map.
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"), contentType: "application/cbor");
        var malformed = await device.ReceiveAsync($"devices/{id}/errors", _ => true, "error for JSON sent as CBOR");
        // A reading out of range, in CBOR: its index, its reason, and the ack for the rest.
        var outOfRange = CborTwin.FromJson(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(TestDevice.Vector("invalid/value-out-of-range.json"))
            .Replace("\"seq\":10", "\"seq\":0", StringComparison.Ordinal)));
        await device.PublishAsync($"devices/{id}/telemetry/cbor", outOfRange);
        var reading = await device.ReceiveAsync($"devices/{id}/errors", e => e.TryGetProperty("reading", out _), "reading error");

        Assert.Equal("malformed_json", malformed.GetProperty("reason").GetString());
        Assert.Equal(("value_out_of_range", 1, 0u), (reading.GetProperty("reason").GetString(), reading.GetProperty("reading").GetInt32(), reading.GetProperty("seq").GetUInt32()));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of seq 0");
    }

    [Fact]
    public async Task DevicePublishingCborAsAnotherDevice_IsRefusedWith0x87_AndNothingIsStored()
    {
        const string id = "shoe-e2e-cbor-7";
        const string victim = "shoe-e2e-cbor-victim";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        var payload = CborTwin.FromJson(TestDevice.Vector("valid/telemetry-shoe-run.json"));

        var forged = await device.PublishAsync($"devices/{victim}/telemetry/cbor", payload);

        Assert.Equal(MQTTnet.MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        // The device's own message after it is processed, so the refused one would have been too.
        await device.PublishAsync($"devices/{id}/telemetry/cbor", payload);
        await device.ReceiveAsync($"devices/{id}/ack", _ => true, "ack of its own message");
        using var twin = await service.Http.GetAsync(new Uri($"/api/devices/{victim}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, twin.StatusCode);
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(service.DataDirectory, "lines")).SelectMany(File.ReadLines),
            l => l.Contains(victim, StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeviceSubscribingToAnotherDevicesAcks_IsRefused()
    {
        await using var device = await service.DeviceAsync("shoe-e2e-8", "devices/shoe-e2e-8/ack", "devices/shoe-e2e-1/ack", "alerts/#");

        Assert.Equal(
            [MQTTnet.MqttClientSubscribeResultCode.GrantedQoS1, MQTTnet.MqttClientSubscribeResultCode.NotAuthorized, MQTTnet.MqttClientSubscribeResultCode.NotAuthorized],
            device.SubscribeResults);
    }

    [Theory]
    [InlineData("shoe-e2e-9", "not-the-token")]
    [InlineData("shoe-e2e-9", "")]
    [InlineData("watcher", "wrong")]
    public async Task WrongCredentials_AreRefused(string user, string password)
    {
        await using var client = await TestDevice.ConnectAsync(service.MqttPort, user, MqttProtocolVersion.V500, (user, password));

        Assert.Equal(MQTTnet.MqttClientConnectResultCode.BadUserNameOrPassword, client.ConnectResult);
    }

    [Theory]
    [InlineData("shoe-e2e-10", "", true)] // assigned by the broker, as mosquitto_sub does
    [InlineData("shoe-e2e-10", "shoe-e2e-10.bench", true)]
    [InlineData("shoe-e2e-10", "shoe-e2e-1", false)] // another device's id: could take over its session
    [InlineData("shoe-e2e-10", "shoe-e2e-10-x", false)]
    public async Task DeviceClientIds_AreItsIdItsIdDotSomethingOrAssigned(string device, string clientId, bool accepted)
    {
        await using var client = await TestDevice.ConnectAsync(service.MqttPort, clientId, MqttProtocolVersion.V311,
            (device, Ingest.Broker.DeviceCredentials.Token(device, ServiceFixture.DeviceSecret)));

        Assert.Equal(accepted, client.ConnectResult == MQTTnet.MqttClientConnectResultCode.Success);
    }

    [Fact]
    public async Task AnonymousClient_IsRefusedByDefault()
    {
        await using var client = await TestDevice.ConnectAsync(service.MqttPort, "anyone", MqttProtocolVersion.V500, null);

        Assert.Equal(MQTTnet.MqttClientConnectResultCode.NotAuthorized, client.ConnectResult);
    }

    [Fact]
    public async Task SoleComingLoose_RaisesADelaminationAlertWithTheDetectorsEvidence()
    {
        const string id = "shoe-e2e-delam";
        await using var consumer = await service.WatcherAsync("delam-watcher", MqttProtocolVersion.V500, $"alerts/{id}");
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);

        // 24 daily runs on the shoe's normal values, then impact and ground contact step up together.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var readings = string.Join(',', Enumerable.Range(0, 28).Select(i =>
        {
            var loose = i >= 24;
            var impact = (loose ? 12.6 : 10) + (0.3 * Math.Sin(i));
            var contact = (loose ? 252 : 222) + (5 * Math.Cos(i));
            return string.Create(CultureInfo.InvariantCulture,
                $$$"""{"ts":{{{now - ((28 - i) * 86_400_000L)}}},"m":{"distance_m":5000,"impact_g":{{{impact:F2}}},"contact_ms":{{{contact:F1}}}}}""");
        }));
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"e2e","seq":0,"readings":[{{readings}}]}"""));

        var alert = await consumer.ReceiveAsync($"alerts/{id}", a => a.GetProperty("code").GetString() == "shoe.sole.delamination_suspected", "delamination alert");
        Assert.Equal(("critical", "raised"), (alert.GetProperty("severity").GetString(), alert.GetProperty("state").GetString()));
        var evidence = alert.GetProperty("evidence");
        Assert.Equal("faults-z-1", evidence.GetProperty("model_version").GetString());
        Assert.True(evidence.GetProperty("impact_z").GetDouble() >= 2.5);
        Assert.True(evidence.GetProperty("contact_z").GetDouble() >= 2.0);

        // The condition again, harder: no second alert, but the open one's evidence is brought up to date.
        var later = string.Join(',', Enumerable.Range(0, 3).Select(i => string.Create(CultureInfo.InvariantCulture,
            $$$"""{"ts":{{{now - ((3 - i) * 3_600_000L)}}},"m":{"distance_m":5000,"impact_g":15.5,"contact_ms":270}}""")));
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"e2e","seq":1,"readings":[{{later}}]}"""));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 1, "ack of seq 1");
        var alertId = alert.GetProperty("id").GetString();
        var updated = await service.WaitForJsonAsync($"/api/alerts/{alertId}",
            a => a.GetProperty("evidence").GetProperty("impact_g").GetDouble() > evidence.GetProperty("impact_g").GetDouble(), "updated evidence");
        Assert.Equal("raised", updated.GetProperty("state").GetString());
        using var listed = await service.Http.GetAsync(new Uri($"/api/alerts?device={id}&code=shoe.sole.delamination_suspected", UriKind.Relative));
        Assert.Equal("1", listed.Headers.GetValues("X-Total-Count").Single());
    }

    [Fact]
    public async Task UnknownDevice_Is404()
    {
        using var response = await service.Http.GetAsync(new Uri("/api/devices/never-seen", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Health_IsHealthyOnceConnected()
    {
        for (var attempt = 0; ; attempt++)
        {
            using var response = await service.Http.GetAsync(new Uri("/health", UriKind.Relative));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
                return;
            }

            // Both broker connections come up within a reconnect interval of start.
            Assert.True(attempt < 100, "the service never reported healthy");
            await Task.Delay(100);
        }
    }

    private async Task<JsonElement> GetTwinAsync(string id)
    {
        var json = await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative));
        return JsonDocument.Parse(json).RootElement;
    }
}
