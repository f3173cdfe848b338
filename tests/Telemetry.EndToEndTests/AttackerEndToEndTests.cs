using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The service as the demo runs it, where clients without credentials may read alerts, with a product registry:
/// what an attacker with only the README tries.
/// </summary>
public sealed class AttackerServiceFixture : ServiceFixture
{
    public AttackerServiceFixture()
        : base([
            "--Broker:AnonymousConsumers", "true",
            "--Quality:KnownModels:0", "aerorun-*",
            "--Quality:KnownBatches:0", "2025w*",
            "--Uplink:BirthRateLimitBurst", "5",
            "--Uplink:MaxCustomMetrics", "4",
        ])
    {
    }
}

public sealed class AttackerEndToEndTests(AttackerServiceFixture service) : IClassFixture<AttackerServiceFixture>
{
    [Theory]
    [InlineData(null)] // mosquitto_sub -V 5 -i telemetry-ingest -c -x 600, without credentials
    [InlineData("device")]
    [InlineData("watcher")]
    public async Task TakingOverTheServicesSubscriberSession_IsRefused_AndTheServiceKeepsReceiving(string? who)
    {
        var refusedBefore = await ConnectionsRefusedAsync("client_id_not_owned");
        var credentials = who switch
        {
            "device" => ("shoe-atk-1", Ingest.Broker.DeviceCredentials.Token("shoe-atk-1", ServiceFixture.DeviceSecret)),
            "watcher" => ServiceFixture.Watcher,
            _ => ((string, string)?)null,
        };

        using var attacker = new MqttClientFactory().CreateMqttClient();
        var result = await attacker.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", service.MqttPort)
            .WithClientId("telemetry-ingest")
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(600)
            .WithCredentials(credentials?.Item1, credentials?.Item2)
            .Build());

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result.ResultCode);
        Assert.Equal(refusedBefore + 1, await ConnectionsRefusedAsync("client_id_not_owned"));
        // The subscriber was not kicked: a device's message is still taken and acknowledged.
        await AssertServiceTakesTelemetryAsync($"shoe-atk-ingest-{who ?? "anon"}");
    }

    [Fact]
    public async Task ForgingAnAckWithTheOutboxsClientId_IsRefused_AndTheDeviceHearsOnlyTheRealAck()
    {
        const string victim = "shoe-atk-victim";
        await using var device = await service.DeviceAsync(victim, $"devices/{victim}/ack");

        // The README's demo: an anonymous client takes the outbox's id and acks every seq of the victim.
        using var forger = new MqttClientFactory().CreateMqttClient();
        var connect = await forger.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", service.MqttPort).WithClientId("telemetry-outbox").WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(false).WithSessionExpiryInterval(60).Build());
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, connect.ResultCode);

        // Another device, with its own valid credentials, tries the victim's ack topic directly.
        await using var other = await service.DeviceAsync("shoe-atk-forger");
        var forged = await other.PublishAsync($"devices/{victim}/ack", """{"boot":"x","seq":4294967295}"""u8.ToArray());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);

        await device.PublishAsync($"devices/{victim}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
        var (topic, ack) = await device.ReceiveAsync("the first message on the ack topic");
        Assert.Equal($"devices/{victim}/ack", topic);
        Assert.Equal(("b7f3a2", 0u), (ack.GetProperty("boot").GetString(), ack.GetProperty("seq").GetUInt32()));
    }

    [Theory]
    [InlineData("shoe-atk-b")] // the other device's own id
    [InlineData("shoe-atk-b.bench")] // the other device's second connection
    public async Task DeviceUsingAnotherDevicesClientId_IsRefused_AndTheOwnerStaysConnected(string clientId)
    {
        await using var owner = await TestDevice.ConnectAsync(service.MqttPort, clientId, MqttProtocolVersion.V500,
            ("shoe-atk-b", Ingest.Broker.DeviceCredentials.Token("shoe-atk-b", ServiceFixture.DeviceSecret)), "devices/shoe-atk-b/ack");

        await using var thief = await TestDevice.ConnectAsync(service.MqttPort, clientId, MqttProtocolVersion.V500,
            ("shoe-atk-a", Ingest.Broker.DeviceCredentials.Token("shoe-atk-a", ServiceFixture.DeviceSecret)), "devices/shoe-atk-b/ack");

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, thief.ConnectResult);
        await owner.PublishAsync("devices/shoe-atk-b/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
        await owner.ReceiveAsync("devices/shoe-atk-b/ack", a => a.GetProperty("seq").GetUInt32() == 0, "the owner's ack");
    }

    [Theory]
    [InlineData("telemetry", true)]
    [InlineData("status", true)]
    [InlineData("status", false)]
    [InlineData("ack", false)]
    public async Task DevicePublishingOutsideItsBirthAndTelemetry_OrRetainingTelemetry_IsRefused(string leaf, bool retain)
    {
        var id = $"shoe-atk-retain-{leaf}-{retain}".ToLowerInvariant();
        var before = await PublishesRefusedAsync();
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");

        var result = await device.PublishAsync($"devices/{id}/{leaf}", TestDevice.Vector("valid/telemetry-shoe-run.json"), retain);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, result.ReasonCode);
        Assert.Equal(before + 1, await PublishesRefusedAsync());
        // Nothing of it was stored: the device's own (unretained) message is the first one acked and stored.
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack of the unretained message");
        Assert.Single(StoredLines(id));
    }

    [Fact]
    public async Task RetainedBirth_IsStillAccepted()
    {
        const string id = "shoe-atk-birth-ok";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");

        var result = await device.PublishAsync($"devices/{id}/birth", TestDevice.Vector("valid/birth-shoe.json"), retain: true);

        Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
    }

    [Fact]
    public async Task BirthFlood_IsRateLimited_AndTheRejectedBirthsAreReported()
    {
        const string id = "shoe-atk-flood";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/errors", $"devices/{id}/ack");
        var birth = Encoding.UTF8.GetString(TestDevice.Vector("valid/birth-shoe.json"));
        for (var i = 0; i < 25; i++)
        {
            // Each one different (and unretained, so the broker keeps none of the flood).
            await device.PublishAsync($"devices/{id}/birth", Encoding.UTF8.GetBytes(birth.Replace("1.4.2", $"9.{i}", StringComparison.Ordinal)));
        }

        // The fixture's budget is a burst of 5: the other 20 are refused, each with its reason.
        for (var i = 0; i < 20; i++)
        {
            var error = await device.ReceiveAsync($"devices/{id}/errors", _ => true, $"rate_limited error {i + 1} of 20");
            Assert.Equal("rate_limited", error.GetProperty("reason").GetString());
        }

        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
        await device.ReceiveAsync($"devices/{id}/ack", _ => true, "ack after the flood");
        var twin = await service.WaitForJsonAsync($"/api/devices/{id}", t => t.GetProperty("totals").GetProperty("messages").GetInt64() == 1, "the twin");
        Assert.Equal("9.4", twin.GetProperty("birth").GetProperty("firmware").GetString());
    }

    [Fact]
    public async Task BirthNamingAnUnknownBatch_IsKeptInTheTwin_ButCountedApart_AndOutOfTheDefectRates()
    {
        const string id = "shoe-atk-rogue";
        var before = await StatAsync("births_unregistered");
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        var birth = Encoding.UTF8.GetString(TestDevice.Vector("valid/birth-shoe.json")).Replace("2025w28-sz2", "rogue-batch-1", StringComparison.Ordinal);
        await device.PublishAsync($"devices/{id}/birth", Encoding.UTF8.GetBytes(birth), retain: true);
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
        await device.ReceiveAsync($"devices/{id}/ack", _ => true, "ack");

        var twin = JsonDocument.Parse(await service.Http.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;
        Assert.Equal("rogue-batch-1", twin.GetProperty("birth").GetProperty("batch").GetString());
        Assert.True(twin.GetProperty("birth").GetProperty("unregistered").GetBoolean());
        Assert.Equal(before + 1, await StatAsync("births_unregistered"));
        // Stored without model and batch tags: no series for the rogue batch.
        Assert.StartsWith($"shoe,device={id} ", Assert.Single(StoredLines(id)), StringComparison.Ordinal);
        using var rates = await KeyedGetAsync("/api/quality/defect-rates?batch=rogue-batch-1");
        Assert.Equal("[]", await rates.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AfterSalesEventNamingAnUnknownBatch_Is400_AndAKnownOneIsAccepted()
    {
        using var unknown = await service.Http.PostAsync(new Uri("/api/quality/events", UriKind.Relative), JsonContent(
            """{"device":"shoe-atk-rogue","model":"aerorun-3","batch":"rogue-batch-1","failure_mode":"sole_delamination","kind":"warranty"}"""));
        using var known = await service.Http.PostAsync(new Uri("/api/quality/events", UriKind.Relative), JsonContent(
            """{"device":"shoe-atk-known","model":"aerorun-3","batch":"2025w28-sz2","failure_mode":"sole_delamination","kind":"warranty"}"""));

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.Accepted), (unknown.StatusCode, known.StatusCode));
        Assert.Contains("Quality:KnownBatches", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static StringContent JsonContent(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task DeviceIntroducingMoreMetricNamesThanItsCap_GetsTooManyMetrics_AndTheRestIsStored()
    {
        const string id = "shoe-atk-names";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/errors", $"devices/{id}/ack");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Six readings, each with a new name outside the catalogue; the fixture allows four.
        var readings = string.Join(',', Enumerable.Range(0, 6).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $$$"""{"ts":{{{now - 10_000 + i}}},"m":{"steps":1,"custom_{{{i}}}":{{{i}}}}}""")));
        await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"n","seq":0,"readings":[{{readings}}]}"""));

        var first = await device.ReceiveAsync($"devices/{id}/errors", _ => true, "first too_many_metrics");
        var second = await device.ReceiveAsync($"devices/{id}/errors", _ => true, "second too_many_metrics");
        Assert.Equal([("too_many_metrics", 4), ("too_many_metrics", 5)],
            new[] { first, second }.Select(e => (e.GetProperty("reason").GetString(), e.GetProperty("reading").GetInt32())));
        await device.ReceiveAsync($"devices/{id}/ack", _ => true, "ack");
        Assert.Equal(4, StoredLines(id).Count);
    }

    [Fact]
    public async Task ConnectionThatNeverSendsConnect_IsClosedByTheBroker()
    {
        // Attack (issue 10 review): sockets that never authenticate used to be held for MQTTnet's default 100 s.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, service.MqttPort);
        // The broker closes it after 10 s; 30 s (not 100) is when this read gives up and fails the test.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var read = await tcp.GetStream().ReadAsync(new byte[1], timeout.Token);

        Assert.Equal(0, read);
    }

    [Fact]
    public async Task ClientWithoutCredentials_ReadsAlerts_ButNoDeviceTopic()
    {
        await using var anonymous = await TestDevice.ConnectAsync(service.MqttPort, string.Empty, MqttProtocolVersion.V500, null,
            "alerts/#", "devices/#", "devices/+/telemetry");

        Assert.Equal(
            [MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.NotAuthorized],
            anonymous.SubscribeResults);
    }

    [Fact]
    public void EmbeddedBroker_ListensOnLoopbackOnly()
    {
        // Attack (issue 10 review): with the default Broker:BindAddress 127.0.0.1 the broker also listens on [::]
        // (MQTTnet's default IPv6 endpoint), so `mosquitto_sub -h fd00::2 -p PORT -t 'alerts/#'` from the network
        // connects, unguarded (the packet-size guard is only put in front when BindAddress is not loopback), and in the
        // demo reads alerts without credentials.
        var listeners = System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners()
            .Where(e => e.Port == service.MqttPort).ToList();

        Assert.NotEmpty(listeners);
        Assert.All(listeners, e => Assert.True(IPAddress.IsLoopback(e.Address), $"the broker listens on {e}"));
    }

    [Fact]
    public async Task RetainedBirthOverThePayloadLimit_IsRefusedByTheBroker()
    {
        // Attack (issue 10 review): a device publishes a 50 MB retained birth; the broker acknowledges it (PUBACK 0)
        // and keeps it forever (+147 MB RSS measured), though the service rejects it as payload_too_large. Without
        // the guard (the default on loopback) one device may retain up to 256 MiB.
        const string id = "shoe-atk-bigbirth";
        await using var device = await service.DeviceAsync(id);
        var payload = new byte[(100 * 1024) + 1];
        Array.Fill(payload, (byte)' ');
        "{}"u8.CopyTo(payload);

        var result = await device.PublishAsync($"devices/{id}/birth", payload, retain: true);

        Assert.NotEqual(MqttClientPublishReasonCode.Success, result.ReasonCode);
    }

    [Fact]
    public async Task DeviceIdInTheServicesClientIdNamespace_IsRefused_EvenWithAnAssignedClientId()
    {
        // Attack (issue 10 review): docs/uplink.md says ids starting with 'telemetry-' are reserved and CredentialsCommand
        // says the embedded broker refuses such a device; with an empty client id it is admitted (auto.…), and
        // devices/telemetry-x/telemetry is ingested into a twin named telemetry-x.
        await using var device = await TestDevice.ConnectAsync(service.MqttPort, string.Empty, MqttProtocolVersion.V500,
            ("telemetry-x", Ingest.Broker.DeviceCredentials.Token("telemetry-x", ServiceFixture.DeviceSecret)));

        Assert.NotEqual(MqttClientConnectResultCode.Success, device.ConnectResult);
    }

    [Fact]
    public async Task RefusedConnections_DoNotLeaveAssignedClientIdsBehind()
    {
        // Attack (issue 10 review): an MQTT 3.1.1 CONNECT with an empty client id and a clean session gets an id from
        // ClientIdAssigningAdapter, remembered until validation takes it; a CONNECT refused for its credentials
        // returns before TakeAssigned, so each one leaves an entry behind for good: unauthenticated memory growth.
        var broker = service.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Ingest.Broker.EmbeddedBroker>().Single();
        var adapter = typeof(Ingest.Broker.EmbeddedBroker).GetField("_adapter", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(broker)!;
        var assigned = (System.Collections.ICollection)adapter.GetType().GetField("_assigned", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(adapter)!;
        var before = assigned.Count;

        for (var i = 0; i < 20; i++)
        {
            using var tcp = new System.Net.Sockets.TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, service.MqttPort);
            var stream = tcp.GetStream();
            // CONNECT, MQTT 3.1.1, clean session, username "nobody", password "x", empty client id.
            byte[] connect = [0x10, 23, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0xC2, 0, 30, 0, 0, 0, 6, (byte)'n', (byte)'o', (byte)'b', (byte)'o', (byte)'d', (byte)'y', 0, 1, (byte)'x'];
            await stream.WriteAsync(connect);
            var connack = new byte[4];
            await stream.ReadExactlyAsync(connack);
            Assert.Equal(4, connack[3]); // bad user name or password
        }

        Assert.Equal(before, assigned.Count);
    }

    private async Task AssertServiceTakesTelemetryAsync(string id)
    {
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));
        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack from the service");
    }

    private List<string> StoredLines(string device) =>
        [.. Directory.GetFiles(Path.Combine(service.DataDirectory, "lines")).SelectMany(File.ReadLines)
            .Where(l => l.Contains($",device={device} ", StringComparison.Ordinal) || l.Contains($",device={device},", StringComparison.Ordinal))];

    private async Task<HttpResponseMessage> KeyedGetAsync(string path)
    {
        // The fixture's client sends the admin key.
        var response = await service.Http.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private async Task<JsonElement> StatsAsync()
    {
        using var response = await KeyedGetAsync("/api/ingest/stats");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    private async Task<long> StatAsync(string name) => (await StatsAsync()).GetProperty(name).GetInt64();

    private async Task<long> ConnectionsRefusedAsync(string reason) =>
        (await StatsAsync()).GetProperty("broker").GetProperty("connections_refused") is var refused && refused.TryGetProperty(reason, out var n) ? n.GetInt64() : 0;

    private async Task<long> PublishesRefusedAsync() =>
        (await StatsAsync()).GetProperty("broker").GetProperty("publishes_refused").EnumerateObject().Sum(p => p.Value.GetInt64());
}
