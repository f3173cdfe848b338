using System.Globalization;
using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Ingest.Broker;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// An attacker with a device's or a consumer's credentials against the shipped Mosquitto configuration:
/// client ids belong to their accounts, so the service's session and other devices' sessions cannot be
/// borrowed, and devices speak only on their birth and telemetry topics. "Nothing received" is asserted
/// after a message on the same connection proves that delivery works.
/// </summary>
public sealed class MosquittoIdentityTests(ProductionServers stack) : IClassFixture<ProductionServers>
{
    private const string ServiceSubscriberId = "telemetry-ingest";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly long BaseMs = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds();
    private static int _boots;

    private const string Birth = """{"v":1,"kind":"shoe","model":"aerorun-3","batch":"2026w01-it","firmware":"1.0.0","manufactured":"2026-01-05"}""";

    /// <summary>What the intruder tries to publish where it may not: telemetry with a boot nobody else uses.</summary>
    private static readonly string Forged = Telemetry(seq: 0).Replace("\"probe\"", "\"forged\"", StringComparison.Ordinal);

    [Fact]
    public async Task DeviceClaimingTheServiceClientId_GetsItsOwnSession_AndReceivesNoOtherDevicesTraffic()
    {
        await using var victim = await ConnectedDeviceAsync("victim-1");
        await using var intruder = new MqttProbe(stack.Mosquitto.Port, "intruder-1", Token("intruder-1"), ServiceSubscriberId)
        {
            CleanStart = false,
            SessionExpiry = 600,
        };

        var connack = await intruder.ConnectAsync();

        Assert.Equal(MqttClientConnectResultCode.Success, connack.ResultCode);
        // The service's session exists (it is connected with a persistent session): resuming it would say so,
        // and would hand the intruder its subscriptions to every device's births and telemetry.
        Assert.False(connack.IsSessionPresent, "the intruder resumed the service's session");
        await intruder.SubscribeAsync("devices/#", "devices/intruder-1/ack");
        await AssertServiceStillReceivesAsync(victim);
        await ProveDeliveryAsync(intruder, "intruder-1");
        Assert.All(intruder.Received, m => Assert.Equal("devices/intruder-1/ack", m.Topic));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("intruder-1", "not-its-token")]
    [InlineData(MosquittoServer.ServiceUser, MosquittoServer.ServicePassword)]
    public async Task ClientWithoutDeviceListenerCredentials_ClaimingTheServiceClientId_IsRefused(string? username, string? password)
    {
        await using var victim = await ConnectedDeviceAsync("victim-1");
        await using var intruder = new MqttProbe(stack.Mosquitto.Port, username, password, ServiceSubscriberId) { CleanStart = false, SessionExpiry = 600 };

        var connack = await intruder.ConnectAsync();

        // Mosquitto 2.0.11 answers "not authorized" (0x87) for a missing user, a wrong password and an account
        // of another listener alike; the service account exists only on the service listener.
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, connack.ResultCode);
        await AssertServiceStillReceivesAsync(victim);
    }

    [Fact]
    public async Task DeviceClaimingAnotherDevicesClientId_NeitherKicksItNorReceivesItsAcks()
    {
        await using var victim = await ConnectedDeviceAsync("victim-2");
        await using var intruder = new MqttProbe(stack.Mosquitto.Port, "intruder-2", Token("intruder-2"), "victim-2")
        {
            CleanStart = false,
            SessionExpiry = 600,
        };

        var connack = await intruder.ConnectAsync();

        Assert.Equal(MqttClientConnectResultCode.Success, connack.ResultCode);
        Assert.False(connack.IsSessionPresent, "the intruder resumed victim-2's session");
        await intruder.SubscribeAsync("devices/victim-2/ack", "devices/victim-2/#", "devices/intruder-2/ack");
        await AssertServiceStillReceivesAsync(victim);
        await ProveDeliveryAsync(intruder, "intruder-2");
        Assert.All(intruder.Received, m => Assert.Equal("devices/intruder-2/ack", m.Topic));
        Assert.Equal(0, victim.Disconnections);
    }

    [Fact]
    public async Task ConsumerClaimingTheServiceClientId_GetsItsOwnSession_AndReceivesOnlyAlerts()
    {
        await using var victim = await ConnectedDeviceAsync("victim-3");
        await using var consumer = new MqttProbe(stack.Mosquitto.Port, MosquittoServer.ReaderUser, MosquittoServer.ReaderPassword, ServiceSubscriberId)
        {
            CleanStart = false,
            SessionExpiry = 600,
        };

        var connack = await consumer.ConnectAsync();

        Assert.Equal(MqttClientConnectResultCode.Success, connack.ResultCode);
        Assert.False(connack.IsSessionPresent, "the consumer resumed the service's session");
        await consumer.SubscribeAsync("devices/#", "alerts/#");
        await AssertServiceStillReceivesAsync(victim);
        await using var service = await ServiceAccountAsync("identity-test-alerts");
        await service.PublishAsync("alerts/identity-test-3", "{}");
        await consumer.WaitForAsync(m => m.Topic == "alerts/identity-test-3", Timeout, "alert published by the service account");
        Assert.DoesNotContain(consumer.Received, m => m.Topic.StartsWith("devices/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DevicePublishingOutsideBirthAndTelemetry_IsRefused_AndNothingIsDeliveredOrRetained()
    {
        await using var observer = await ServiceAccountAsync("identity-test-observer");
        await observer.SubscribeAsync("devices/#");
        await using var reader = new MqttProbe(stack.Mosquitto.Port, MosquittoServer.ReaderUser, MosquittoServer.ReaderPassword, "ignored");
        Assert.Equal(MqttClientConnectResultCode.Success, (await reader.ConnectAsync()).ResultCode);
        await reader.SubscribeAsync("alerts/#", "quality/#");
        await using var intruder = new MqttProbe(stack.Mosquitto.Port, "intruder-4", Token("intruder-4"), "intruder-4");
        Assert.Equal(MqttClientConnectResultCode.Success, (await intruder.ConnectAsync()).ResultCode);
        string[] forbidden =
        [
            "devices/intruder-4/telemetry/extra", "devices/intruder-4/birth/x", "devices/intruder-4/ack",
            "devices/intruder-4/errors", "devices/intruder-4/config", "devices/intruder-4",
            "devices/victim-4/telemetry", "devices/victim-4/birth", "devices/victim-4/ack",
            "alerts/intruder-4", "quality/intruder-4",
        ];

        foreach (var topic in forbidden)
        {
            var result = await intruder.PublishAsync(topic, Forged, retain: true);
            Assert.True(result.ReasonCode == MqttClientPublishReasonCode.NotAuthorized, $"publish to {topic}: {result.ReasonCode}");
        }

        // What a device may do still works, and shows that the observers receive.
        Assert.Equal(MqttClientPublishReasonCode.Success, (await intruder.PublishAsync("devices/intruder-4/birth", Birth, retain: true)).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await intruder.PublishAsync("devices/intruder-4/telemetry", Telemetry(seq: 0))).ReasonCode);
        await observer.WaitForAsync(m => m.Topic == "devices/intruder-4/telemetry", Timeout, "the allowed telemetry");
        await using var service = await ServiceAccountAsync("identity-test-alerts");
        await service.PublishAsync("alerts/identity-test-4", "{}");
        await reader.WaitForAsync(m => m.Topic == "alerts/identity-test-4", Timeout, "alert published by the service account");
        // The service itself writes to some of these topics (an error about the birth, say), never this payload.
        Assert.DoesNotContain(observer.Received, m => m.Payload == Forged);
        Assert.DoesNotContain(reader.Received, m => m.Payload == Forged);

        // Nor did the broker keep any of them: a new subscriber gets the retained birth and nothing else. The
        // second subscription's copy of the birth comes after every retained message of the first.
        await using var late = await ServiceAccountAsync("identity-test-late");
        await late.SubscribeAsync("devices/#");
        await late.SubscribeAsync("devices/intruder-4/birth");
        await late.WaitForAsync(m => m.Topic == "devices/intruder-4/birth" && m.Retained, Timeout, "retained birth (twice)", count: 2);
        Assert.DoesNotContain(late.Received, m => m.Payload == Forged);
    }

    [Theory]
    [InlineData("intruder-5", true)]
    [InlineData(MosquittoServer.ReaderUser, false)]
    [InlineData(null, false)]
    public async Task ServiceListener_RefusesEveryAccountButTheService(string? username, bool device)
    {
        var password = username is null ? null : device ? Token(username) : MosquittoServer.ReaderPassword;
        await using var victim = await ConnectedDeviceAsync("victim-5");
        await using var intruder = new MqttProbe(stack.Mosquitto.ServicePort, username, password, ServiceSubscriberId) { CleanStart = false, SessionExpiry = 600 };

        var connack = await intruder.ConnectAsync();

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, connack.ResultCode);
        await AssertServiceStillReceivesAsync(victim);
    }

    [Fact]
    public async Task DeliveryProbe_IsAllowedToTheServiceOnly_AndComesBackThroughTheTelemetrySubscription()
    {
        // The subscriber's stall check (Broker:ProbeInterval) publishes to devices/$probe/telemetry and expects it back
        // through devices/+/telemetry: the shipped ACL must allow it, and '+' must match a level that starts with '$'.
        await using var service = new MqttProbe(stack.Mosquitto.ServicePort, MosquittoServer.ServiceUser, MosquittoServer.ServicePassword, "telemetry-probe-check");
        Assert.Equal(MqttClientConnectResultCode.Success, (await service.ConnectAsync()).ResultCode);
        await service.SubscribeAsync("devices/+/telemetry");
        await using var device = new MqttProbe(stack.Mosquitto.Port, "victim-4", Token("victim-4"), "victim-4");
        Assert.Equal(MqttClientConnectResultCode.Success, (await device.ConnectAsync()).ResultCode);

        var spoofed = await device.PublishAsync(Ingest.Mqtt.DeliveryWatch.Topic, "spoofed");
        var probe = await service.PublishAsync(Ingest.Mqtt.DeliveryWatch.Topic, "probe-1");
        Assert.Equal(MqttClientPublishReasonCode.Success, probe.ReasonCode);
        await service.WaitForAsync(m => m.Topic == Ingest.Mqtt.DeliveryWatch.Topic && m.Payload == "probe-1", Timeout, "probe back through devices/+/telemetry");

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, spoofed.ReasonCode);
        Assert.DoesNotContain(service.Received, m => m.Payload == "spoofed");
    }

    [Fact]
    public async Task DeviceSendingCbor_IsAckedOnTelemetryCborAndByContentType_AndRefusedOnAnotherDevicesTopic()
    {
        // The shipped ACL lets a device write its own telemetry/cbor (MQTT 3.1.1 firmware has no content type).
        await using var device = new MqttProbe(stack.Mosquitto.Port, "cbor-device", Token("cbor-device"), "cbor-device");
        Assert.Equal(MqttClientConnectResultCode.Success, (await device.ConnectAsync()).ResultCode);
        await device.SubscribeAsync("devices/cbor-device/ack");

        var forged = await device.PublishAsync("devices/victim-cbor/telemetry/cbor", CborTelemetry(seq: 0));
        var onTopic = await device.PublishAsync("devices/cbor-device/telemetry/cbor", CborTelemetry(seq: 0));
        await device.WaitForAsync(m => m.Topic == "devices/cbor-device/ack" && m.Payload.Contains("\"seq\":0", StringComparison.Ordinal), Timeout, "ack of CBOR on telemetry/cbor");
        var byType = await device.PublishAsync("devices/cbor-device/telemetry", CborTelemetry(seq: 1), contentType: "application/cbor");
        await device.WaitForAsync(m => m.Topic == "devices/cbor-device/ack" && m.Payload.Contains("\"seq\":1", StringComparison.Ordinal), Timeout, "ack of CBOR by content type");
        await stack.WaitForSpillReplayedAsync();

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        Assert.Equal((MqttClientPublishReasonCode.Success, MqttClientPublishReasonCode.Success), (onTopic.ReasonCode, byType.ReasonCode));
        Assert.Equal((2L, 0L), (await stack.StoredAsync("cbor-device"), await stack.StoredAsync("victim-cbor")));
    }

    [Fact]
    public async Task DeviceOverTls_TrustingTheCaFromMakeCerts_IsAcked()
    {
        // MosquittoServer made the listener's certificate with deploy/mosquitto/make-certs.sh (localhost 127.0.0.1).
        await using var device = new Firmware("tls-device", stack.Mosquitto.TlsPort, ProductionServers.Secret) { CaFile = stack.Mosquitto.CaFile };
        await device.ConnectAsync();
        await device.SendNextAsync(BaseMs);
        await device.WaitAllAckedAsync(Timeout, TimeSpan.FromSeconds(2));
        await stack.WaitForSpillReplayedAsync();

        Assert.Equal(device.ReadingsSent, await stack.StoredAsync("tls-device"));
    }

    private static string Token(string device) => DeviceCredentials.Token(device, ProductionServers.Secret);

    private static string Telemetry(uint seq) => string.Create(CultureInfo.InvariantCulture,
        $$$"""{"v":1,"boot":"probe","seq":{{{seq}}},"readings":[{"ts":{{{BaseMs + seq}}},"m":{"distance_m":1}}]}""");

    /// <summary>{0: 1, 1: "cbor", 2: seq, 3: [{0: ts, 1: {0: 1.0}}]}: one reading of distance_m in the compact CBOR form.</summary>
    private static byte[] CborTelemetry(uint seq)
    {
        var writer = new System.Formats.Cbor.CborWriter();
        writer.WriteStartMap(4);
        writer.WriteUInt32(0);
        writer.WriteUInt32(1);
        writer.WriteUInt32(1);
        writer.WriteTextString("cbor");
        writer.WriteUInt32(2);
        writer.WriteUInt32(seq);
        writer.WriteUInt32(3);
        writer.WriteStartArray(1);
        writer.WriteStartMap(2);
        writer.WriteUInt32(0);
        writer.WriteInt64(BaseMs + seq);
        writer.WriteUInt32(1);
        writer.WriteStartMap(1);
        writer.WriteUInt32(0);
        writer.WriteUInt32(1);
        writer.WriteEndMap();
        writer.WriteEndMap();
        writer.WriteEndArray();
        writer.WriteEndMap();
        return writer.Encode();
    }

    /// <summary>A device connected as itself; a new boot each time, so its messages are never duplicates.</summary>
    private async Task<Firmware> ConnectedDeviceAsync(string id)
    {
        var device = new Firmware(id, stack.Mosquitto.Port, ProductionServers.Secret, boot: $"b{Interlocked.Increment(ref _boots)}");
        await device.ConnectAsync();
        return device;
    }

    /// <summary>A client of the service account on the service listener (never one of the service's own ids).</summary>
    private async Task<MqttProbe> ServiceAccountAsync(string clientId)
    {
        var probe = new MqttProbe(stack.Mosquitto.ServicePort, MosquittoServer.ServiceUser, MosquittoServer.ServicePassword, clientId);
        var connack = await probe.ConnectAsync();
        Assert.Equal(MqttClientConnectResultCode.Success, connack.ResultCode);
        return probe;
    }

    /// <summary>The service's subscriber still gets a device's telemetry: the device's next message is acked.</summary>
    private static async Task AssertServiceStillReceivesAsync(Firmware victim)
    {
        await victim.SendNextAsync(BaseMs);
        await victim.WaitAllAckedAsync(Timeout, TimeSpan.FromSeconds(2));
    }

    /// <summary>The intruder publishes telemetry as itself and gets the service's ack: its connection receives,
    /// so whatever it would have been sent before that has arrived too.</summary>
    private static async Task ProveDeliveryAsync(MqttProbe intruder, string ownId)
    {
        Assert.Equal(MqttClientPublishReasonCode.Success, (await intruder.PublishAsync($"devices/{ownId}/telemetry", Telemetry(seq: 0))).ReasonCode);
        await intruder.WaitForAsync(m => m.Topic == $"devices/{ownId}/ack", Timeout, "ack of its own telemetry");
    }
}
