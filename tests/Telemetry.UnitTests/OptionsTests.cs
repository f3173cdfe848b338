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

    [Theory]
    [InlineData("influx:8086", "Influx:Url")]
    [InlineData("ftp://influx", "Influx:Url")]
    public void BadInfluxUrl_FailsNamingTheKey(string url, string key)
    {
        var result = new OptionsValidators().Validate(null, new Telemetry.Ingest.Storage.InfluxOptions { Url = url });

        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage);
    }

    [Fact]
    public void InfluxV2WithoutOrg_FailsNamingTheKeys()
    {
        var result = new OptionsValidators().Validate(null, new Telemetry.Ingest.Storage.InfluxOptions
        {
            Url = "http://127.0.0.1:8086",
            ApiVersion = Telemetry.Ingest.Storage.InfluxApiVersion.V2,
        });

        Assert.True(result.Failed);
        Assert.Contains("Influx:Org", result.FailureMessage);
    }

    [Fact]
    public void RedisTwinsWithoutAConnectionString_FailNamingTheKey()
    {
        var result = new OptionsValidators().Validate(null, new Telemetry.Ingest.Twins.TwinOptions { Store = Telemetry.Ingest.Twins.TwinStore.Redis });

        Assert.True(result.Failed);
        Assert.Contains("Twins:Redis", result.FailureMessage);
    }

    [Fact]
    public void TwinResidencyOutOfRange_FailsNamingTheKeys()
    {
        var result = new OptionsValidators().Validate(null, new Telemetry.Ingest.Twins.TwinOptions { CollectionAge = TimeSpan.FromSeconds(30), MaxResidentTwins = 10 });

        Assert.True(result.Failed);
        Assert.Contains("Twins:CollectionAge", result.FailureMessage);
        Assert.Contains("Twins:MaxResidentTwins", result.FailureMessage);
    }

    [Fact]
    public void MissingCaFile_FailsNamingTheKey()
    {
        var result = new BrokerOptionsValidator().Validate(null, new BrokerOptions { UseTls = true, CaFile = "/nonexistent/ca.pem" });

        Assert.True(result.Failed);
        Assert.Contains("Broker:CaFile", result.FailureMessage);
    }

    [Theory]
    [InlineData("fr")]
    [InlineData("zh-Hans")]
    [InlineData("")]
    public void AnUnknownDefaultLocale_FailsNamingTheKey(string locale)
    {
        var result = new OptionsValidators().Validate(null, new Telemetry.Grains.Alerts.AlertsOptions { DefaultLocale = locale });

        Assert.True(result.Failed);
        Assert.Contains($"Alerts:DefaultLocale must be one of en, zh-CN (was '{locale}').", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("en")]
    [InlineData("zh-CN")]
    [InlineData("zh-cn")]
    public void AKnownDefaultLocale_InAnyCase_IsValid(string locale) =>
        Assert.True(new OptionsValidators().Validate(null, new Telemetry.Grains.Alerts.AlertsOptions { DefaultLocale = locale }).Succeeded);

    /// <summary>The validator is the one start-up runs: the host refuses to start, before it connects anywhere.</summary>
    [Fact]
    public async Task AnUnknownDefaultLocale_StopsStartUp()
    {
        var data = Directory.CreateTempSubdirectory("telemetry-locale-options-").FullName;
        try
        {
            await using var app = Telemetry.Ingest.TelemetryApp.Build(["--Storage:DataDirectory", data, "--Alerts:DefaultLocale", "zh-TW"]);

            var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());

            Assert.Contains("Alerts:DefaultLocale must be one of en, zh-CN (was 'zh-TW').", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public void Defaults_AreValid()
    {
        Assert.True(new BrokerOptionsValidator().Validate(null, new BrokerOptions()).Succeeded);
        Assert.True(new OptionsValidators().Validate(null, new UplinkOptions()).Succeeded);
        Assert.True(new OptionsValidators().Validate(null, new Telemetry.Ingest.Storage.InfluxOptions()).Succeeded);
        Assert.True(new OptionsValidators().Validate(null, new Telemetry.Ingest.Storage.StorageOptions()).Succeeded);
        Assert.True(new OptionsValidators().Validate(null, new Telemetry.Ingest.Twins.TwinOptions()).Succeeded);
    }

    [Fact]
    public void CredentialsCommand_PrintsTokensAndMosquittoLines()
    {
        using var tokens = new StringWriter();
        using var lines = new StringWriter();
        using var errors = new StringWriter();

        Assert.Equal(0, CredentialsCommand.Run(["--Broker:DeviceSecret", "s3cret", "shoe-00001"], tokens, errors));
        Assert.Equal(0, CredentialsCommand.Run(["--mosquitto", "--Broker:DeviceSecret", "s3cret", "--simulated", "2"], lines, errors));
        Assert.Equal(2, CredentialsCommand.Run(["not a device"], tokens, errors));

        Assert.Equal($"shoe-00001 {DeviceCredentials.Token("shoe-00001", "s3cret")}", tokens.ToString().Trim());
        Assert.Collection(lines.ToString().Trim().Split('\n'),
            l => Assert.Matches(@"^shoe-00001:\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$", l),
            l => Assert.StartsWith("band-00002:$7$101$", l, StringComparison.Ordinal));
        Assert.Contains("is not a device id", errors.ToString(), StringComparison.Ordinal);
    }
}
