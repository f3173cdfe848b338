using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class OptionsTests
{
    [Fact]
    public void BrokerPortOutOfRange_FailsNamingTheKey()
    {
        var result = new BrokerOptionsValidator().Validate(null, new BrokerOptions { Port = 70000 });

        Assert.True(result.Failed);
        Assert.Contains("Broker:Port", result.FailureMessage);
    }

    [Fact]
    public void AckIntervalBeyondTheContract_FailsNamingTheKey()
    {
        var result = new OptionsValidators().Validate(null, new UplinkOptions { AckInterval = TimeSpan.FromSeconds(2) });

        Assert.True(result.Failed);
        Assert.Contains("Uplink:AckInterval", result.FailureMessage);
    }

    [Fact]
    public void Defaults_AreValid()
    {
        Assert.True(new BrokerOptionsValidator().Validate(null, new BrokerOptions()).Succeeded);
        Assert.True(new OptionsValidators().Validate(null, new UplinkOptions()).Succeeded);
    }
}
