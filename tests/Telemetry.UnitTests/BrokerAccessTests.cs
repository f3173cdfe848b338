using Telemetry.Ingest.Broker;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class BrokerAccessTests
{
    private static readonly ClientIdentity Shoe1 = ClientIdentity.Device("shoe-1");

    [Theory]
    [InlineData("devices/shoe-1/telemetry", false, "Allowed")]
    [InlineData("devices/shoe-1/birth", false, "Allowed")]
    [InlineData("devices/shoe-1/birth", true, "Allowed")]
    [InlineData("devices/shoe-1/telemetry", true, "RetainedOutsideBirth")]
    [InlineData("devices/shoe-1/telemetry/cbor", false, "Allowed")] // CBOR from MQTT 3.1.1 firmware
    [InlineData("devices/shoe-1/telemetry/cbor", true, "RetainedOutsideBirth")]
    [InlineData("devices/shoe-2/telemetry/cbor", false, "OutsideOwnTopics")]
    [InlineData("devices/shoe-1/telemetry/json", false, "OutsideOwnTopics")]
    [InlineData("devices/shoe-1/telemetry/cbor/x", false, "OutsideOwnTopics")]
    [InlineData("devices/shoe-1/anything", false, "OutsideOwnTopics")] // retained, it would be kept forever
    [InlineData("devices/shoe-1/ack", false, "OutsideOwnTopics")] // a forged ack to itself
    [InlineData("devices/shoe-1/birth/x", true, "OutsideOwnTopics")]
    [InlineData("devices/shoe-10/telemetry", false, "OutsideOwnTopics")] // a longer id with the same prefix
    [InlineData("devices/shoe-2/telemetry", false, "OutsideOwnTopics")]
    [InlineData("devices/shoe-1", false, "OutsideOwnTopics")]
    [InlineData("alerts/shoe-1", false, "OutsideOwnTopics")]
    [InlineData("devices/+/telemetry", false, "WildcardInTopic")]
    [InlineData("devices/shoe-1/#", false, "WildcardInTopic")]
    public void Device_PublishesOnlyItsBirthAndTelemetry_AndRetainsOnlyItsBirth(string topic, bool retain, string expected) =>
        Assert.Equal(expected, BrokerAccess.CanPublish(Shoe1, topic, retain).ToString());

    [Theory]
    [InlineData("devices/shoe-1/ack", true)]
    [InlineData("devices/shoe-1/errors", true)]
    [InlineData("devices/shoe-1/#", false)]
    [InlineData("devices/+/ack", false)]
    [InlineData("alerts/#", false)]
    [InlineData("#", false)]
    public void Device_ReadsOnlyItsAckAndErrors(string filter, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.CanSubscribe(Shoe1, filter));

    [Theory]
    [InlineData("alerts/#", true)]
    [InlineData("alerts/shoe-1", true)]
    [InlineData("quality/aerorun-3/#", true)]
    [InlineData("#", false)]
    [InlineData("+/shoe-1", false)]
    [InlineData("devices/+/telemetry", false)]
    [InlineData("alertsx/#", false)]
    public void Consumer_ReadsAlertsAndQualityOnly(string filter, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.CanSubscribe(ClientIdentity.Consumer("watcher"), filter));

    [Fact]
    public void Consumer_PublishesNothing() =>
        Assert.Equal(PublishDecision.OutsideOwnTopics, BrokerAccess.CanPublish(ClientIdentity.Consumer("watcher"), "alerts/shoe-1", retain: false));

    [Fact]
    public void OnlyTheService_PublishesTheDeliveryProbe()
    {
        // A forged probe could only make the subscriber think the broker still delivers; nobody else may send one.
        Assert.Equal(PublishDecision.Allowed, BrokerAccess.CanPublish(ClientIdentity.Service, Ingest.Mqtt.DeliveryWatch.Topic, retain: false));
        Assert.Equal(PublishDecision.OutsideOwnTopics, BrokerAccess.CanPublish(Shoe1, Ingest.Mqtt.DeliveryWatch.Topic, retain: false));
        // No device can be called "$probe": the broker authenticates only valid device ids.
        Assert.False(Ingest.Uplink.UplinkIds.IsDeviceId("$probe"));
        Assert.Equal(PublishDecision.OutsideOwnTopics, BrokerAccess.CanPublish(ClientIdentity.Consumer("watcher"), Ingest.Mqtt.DeliveryWatch.Topic, retain: false));
    }

    [Fact]
    public void SessionWithoutAnIdentity_MayDoNothing()
    {
        Assert.Equal(PublishDecision.OutsideOwnTopics, BrokerAccess.CanPublish(ClientIdentity.Nobody, "devices/shoe-1/telemetry", retain: false));
        Assert.False(BrokerAccess.CanSubscribe(ClientIdentity.Nobody, "devices/shoe-1/ack"));
    }

    [Theory]
    [InlineData("shoe-1", true)]
    [InlineData("shoe-1.bench", true)]
    [InlineData("shoe-1.a_b-C9", true)]
    [InlineData("shoe-2", false)] // another device: it would resume that device's session
    [InlineData("shoe-2.bench", false)] // another device's second connection
    [InlineData("shoe-10", false)]
    [InlineData("shoe-1-x", false)]
    [InlineData("shoe-1.", false)]
    [InlineData("shoe-1.a.b", false)]
    [InlineData("shoe-1.a/b", false)]
    [InlineData("telemetry-ingest", false)] // the service's subscriber
    [InlineData("telemetry-outbox", false)]
    [InlineData("watcher", false)]
    public void Device_UsesOnlyItsOwnClientIds(string clientId, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.MayUseClientId(Shoe1, clientId, "telemetry"));

    [Fact]
    public void Device_WithAnIdInTheServicesNamespace_CannotUseIt() =>
        Assert.False(BrokerAccess.MayUseClientId(ClientIdentity.Device("telemetry-ingest"), "telemetry-ingest", "telemetry"));

    [Theory]
    [InlineData("telemetry-ingest", true)]
    [InlineData("telemetry-outbox", true)]
    [InlineData("shoe-1", false)] // the service never borrows a device's session either
    [InlineData("watcher", false)]
    public void Service_UsesOnlyItsPrefix(string clientId, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.MayUseClientId(ClientIdentity.Service, clientId, "telemetry"));

    [Theory]
    [InlineData("watcher", true)]
    [InlineData("watcher.dashboard", true)]
    [InlineData("watcher-2", false)]
    [InlineData("shoe-1", false)]
    [InlineData("telemetry-ingest", false)]
    public void ConsumerAccount_UsesItsNameAsPrefix(string clientId, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.MayUseClientId(ClientIdentity.Consumer("watcher"), clientId, "telemetry"));

    [Theory]
    [InlineData("telemetry-ingest")]
    [InlineData("shoe-1")]
    [InlineData("mosq-123")]
    public void ClientWithoutCredentials_MustLetTheBrokerAssignItsId(string clientId) =>
        Assert.False(BrokerAccess.MayUseClientId(ClientIdentity.Consumer(null), clientId, "telemetry"));

    [Fact]
    public void LabModeWithoutCredentials_StillLeavesTheServicesIdsAlone()
    {
        Assert.True(BrokerAccess.MayUseClientId(ClientIdentity.Anonymous, "anything", "telemetry"));
        Assert.False(BrokerAccess.MayUseClientId(ClientIdentity.Anonymous, "telemetry-ingest", "telemetry"));
    }

    [Fact]
    public void Token_IsHmacSha256OfTheDeviceIdUnderTheSecret()
    {
        // Reference: the same HMAC computed by openssl, outside .NET.
        Assert.Equal(ReferenceHmac("shoe-00001", "secret"), DeviceCredentials.Token("shoe-00001", "secret"));
        Assert.True(DeviceCredentials.Verify("shoe-00001", DeviceCredentials.Token("shoe-00001", "secret"), "secret"));
        Assert.False(DeviceCredentials.Verify("shoe-00002", DeviceCredentials.Token("shoe-00001", "secret"), "secret"));
    }

    private static string ReferenceHmac(string message, string key)
    {
        using var openssl = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("openssl", ["dgst", "-sha256", "-hmac", key])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        openssl.StandardInput.Write(message);
        openssl.StandardInput.Close();
        var output = openssl.StandardOutput.ReadToEnd().Trim();
        openssl.WaitForExit();
        return output[(output.LastIndexOf(' ') + 1)..];
    }
}
