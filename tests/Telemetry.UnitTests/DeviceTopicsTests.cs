using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class DeviceTopicsTests
{
    [Theory]
    [InlineData("devices/shoe-1/telemetry", null, "Telemetry", "Json")]
    [InlineData("devices/shoe-1/telemetry", "application/json", "Telemetry", "Json")]
    [InlineData("devices/shoe-1/telemetry", "application/cbor", "Telemetry", "Cbor")]
    [InlineData("devices/shoe-1/telemetry", " Application/CBOR ; v=1", "Telemetry", "Cbor")]
    [InlineData("devices/shoe-1/telemetry", "application/cbor-seq", "Telemetry", "Json")] // another type: read as JSON
    [InlineData("devices/shoe-1/telemetry", "application/octet-stream", "Telemetry", "Json")]
    [InlineData("devices/shoe-1/telemetry/cbor", null, "Telemetry", "Cbor")] // MQTT 3.1.1 firmware
    [InlineData("devices/shoe-1/telemetry/cbor", "application/json", "Telemetry", "Cbor")] // the topic wins
    [InlineData("devices/shoe-1/birth", "application/cbor", "Birth", "Json")] // births are JSON
    public void TryParse_SaysWhichDeviceAndHowThePayloadIsEncoded(string topic, string? contentType, string kind, string encoding)
    {
        Assert.True(DeviceTopics.TryParse(topic, contentType, out var device, out var parsedKind, out var parsedEncoding));

        Assert.Equal(("shoe-1", kind, encoding), (device, parsedKind.ToString(), parsedEncoding.ToString()));
    }

    [Theory]
    [InlineData("devices/shoe-1/telemetry/json")]
    [InlineData("devices/shoe-1/telemetry/cbor/x")]
    [InlineData("devices/shoe-1/telemetry/")]
    [InlineData("devices/shoe 1/telemetry/cbor")]
    [InlineData("devices//telemetry/cbor")]
    public void TryParse_RefusesAnyOtherTopic(string topic) =>
        Assert.False(DeviceTopics.TryParse(topic, DeviceTopics.CborContentType, out _, out _, out _));
}
