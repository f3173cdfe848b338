using Telemetry.Ingest.Broker;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class BrokerAccessTests
{
    [Theory]
    [InlineData("devices/shoe-1/telemetry", true)]
    [InlineData("devices/shoe-1/birth", true)]
    [InlineData("devices/shoe-10/telemetry", false)] // a longer id with the same prefix
    [InlineData("devices/shoe-2/telemetry", false)]
    [InlineData("devices/shoe-1", false)]
    [InlineData("alerts/shoe-1", false)]
    [InlineData("devices/+/telemetry", false)]
    public void Device_PublishesOnlyUnderItsOwnTopics(string topic, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.CanPublish(ClientRole.Device, "shoe-1", topic));

    [Theory]
    [InlineData("devices/shoe-1/ack", true)]
    [InlineData("devices/shoe-1/errors", true)]
    [InlineData("devices/shoe-1/#", false)]
    [InlineData("devices/+/ack", false)]
    [InlineData("alerts/#", false)]
    [InlineData("#", false)]
    public void Device_ReadsOnlyItsAckAndErrors(string filter, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.CanSubscribe(ClientRole.Device, "shoe-1", filter));

    [Theory]
    [InlineData("alerts/#", true)]
    [InlineData("alerts/shoe-1", true)]
    [InlineData("quality/aerorun-3/#", true)]
    [InlineData("#", false)]
    [InlineData("+/shoe-1", false)]
    [InlineData("devices/+/telemetry", false)]
    [InlineData("alertsx/#", false)]
    public void Consumer_ReadsAlertsAndQualityOnly(string filter, bool allowed) =>
        Assert.Equal(allowed, BrokerAccess.CanSubscribe(ClientRole.Consumer, null, filter));

    [Fact]
    public void Consumer_PublishesNothing() =>
        Assert.False(BrokerAccess.CanPublish(ClientRole.Consumer, null, "alerts/shoe-1"));

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
