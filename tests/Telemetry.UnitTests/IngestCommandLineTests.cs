using Microsoft.Extensions.Configuration;
using Telemetry.Ingest.Cli;
using Telemetry.Ingest.Hosting;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// <c>dotnet run --project ingest -- …</c> in process: the service's root command, which hands its arguments to the
/// service untouched, and the verbs export and credentials. Nothing here starts the service or reaches the network.
/// </summary>
public sealed class IngestCommandLineTests
{
    [Fact]
    public async Task Help_ListsVerbsAndMainSettingsWithDefaults_WithoutStartingTheService()
    {
        var service = new RecordingService();

        var (code, output, error) = await InvokeAsync(["--help"], service);

        Assert.Equal(0, code);
        Assert.Null(service.Args);
        Assert.Equal(string.Empty, error);
        foreach (var expected in (string[])[
            "export", "credentials",
            "--simulate <N>", "[default: 0]",
            "--urls", "[default: http://127.0.0.1:8080]",
            "--Storage:DataDirectory <DIR>", "[default: data]",
            "--Broker:Mode <Embedded|External>", "[default: Embedded]",
            "--Broker:Host <HOST>", "[default: 127.0.0.1]",
            "--Broker:Port <PORT>", "[default: 1883]",
            "--Influx:Url", "--Twins:Store", "[default: Sqlite]",
            "--Section:Key value or --Section:Key=value",
        ])
        {
            Assert.Contains(expected, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task NoVerb_RunsTheServiceWithEveryArgumentAsGiven_AndSettingsReachItsConfiguration()
    {
        var service = new RecordingService(exitCode: 7);
        string[] args = ["--simulate", "5", "--Orleans:ClusterId=blue", "--Logging:LogLevel:Telemetry", "Debug", "--Broker:Port=1884", "--Storage:DataDirectory", "/tmp/d", "--environment", "Staging"];

        var (code, output, error) = await InvokeAsync(args, service);

        Assert.Equal(7, code);
        Assert.Equal(args, service.Args);
        Assert.Equal(string.Empty, output + error);
        var configuration = new ConfigurationBuilder().AddCommandLine(service.Args!, TelemetryHostingExtensions.SwitchMappings).Build();
        Assert.Equal("5", configuration["Simulation:Devices"]);
        Assert.Equal("blue", configuration["Orleans:ClusterId"]);
        Assert.Equal("Debug", configuration["Logging:LogLevel:Telemetry"]);
        Assert.Equal("1884", configuration["Broker:Port"]);
        Assert.Equal("/tmp/d", configuration["Storage:DataDirectory"]);
    }

    [Fact]
    public async Task SettingWhoseValueIsAVerbName_StillRunsTheService()
    {
        var service = new RecordingService();

        var (code, _, _) = await InvokeAsync(["--Webhooks:Mode", "export", "--Api:KeyFile", "@keys"], service);

        Assert.Equal(0, code);
        Assert.Equal(["--Webhooks:Mode", "export", "--Api:KeyFile", "@keys"], service.Args!);
    }

    [Fact]
    public async Task RepeatedOrBadSetting_StillGoesToTheService_WhoseConfigurationDecides()
    {
        var service = new RecordingService();
        string[] args = ["--Broker:Port", "1883", "--Broker:Port", "1884", "--simulate", "many", "--urls"];

        var (code, output, error) = await InvokeAsync(args, service);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, output + error);
        Assert.Equal(args, service.Args!);
        var configuration = new ConfigurationBuilder().AddCommandLine(["--Broker:Port", "1883", "--Broker:Port", "1884"]).Build();
        Assert.Equal("1884", configuration["Broker:Port"]);
    }

    [Fact]
    public async Task Version_PrintsTheVersionWithoutStartingTheService()
    {
        var service = new RecordingService();

        var (code, output, _) = await InvokeAsync(["--simulate", "5", "--version"], service);

        Assert.Equal(0, code);
        Assert.Null(service.Args);
        Assert.Matches(@"^\d+\.\d+", output);
    }

    [Theory]
    [InlineData("export", new[] { "<alerts|defect-rates>", "--format <csv|json|parquet> (REQUIRED)", "--out <FILE> (REQUIRED)", "--url <URL>", "[default: http://127.0.0.1:8080]", "--api-key <KEY>", "$TELEMETRY_API_KEY", "--model", "--batch", "--failure-mode", "--from", "--to" })]
    [InlineData("credentials", new[] { "<DEVICE_ID>", "--mosquitto", "--simulated <N>", "[default: 0]", "--Broker:DeviceSecret <SECRET>", "--Storage:DataDirectory <DIR>", "[default: data]" })]
    public async Task VerbHelp_ListsItsOptionsWithDefaults(string verb, string[] expected)
    {
        var (code, output, error) = await InvokeAsync([verb, "--help"], new RecordingService());

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        foreach (var text in expected)
        {
            Assert.Contains(text, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(new[] { "credentials", "--mosquito", "shoe-00001" }, "Did you mean --mosquitto?")]
    [InlineData(new[] { "credentials", "shoe-00001", "--simulate", "3" }, "Did you mean --simulated?")]
    [InlineData(new[] { "export", "alerts", "--fromat", "csv", "--out", "x.csv" }, "--format")]
    [InlineData(new[] { "export", "--fromat", "csv", "alerts", "--out", "x.csv" }, "Did you mean --format")]
    [InlineData(new[] { "export", "alerts", "--format", "csv", "--out", "x.csv", "--api-kye", "k" }, "--api-key")]
    public async Task MistypedVerbOption_FailsNamingTheRightOne_WithNothingOnStandardOutput(string[] args, string expected)
    {
        var service = new RecordingService();

        var (code, output, error) = await InvokeAsync(args, service);

        Assert.Equal(2, code);
        Assert.Null(service.Args);
        Assert.Equal(string.Empty, output);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportWithoutFormatOrFile_FailsNamingThem()
    {
        var (code, output, error) = await InvokeAsync(["export", "alerts"], new RecordingService());

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("Option '--format' is required.", error, StringComparison.Ordinal);
        Assert.Contains("Option '--out' is required.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_SettingsNoOptionDeclares_ReachItsConfiguration()
    {
        // Broker:ClientIdPrefix is read from the command line like any setting: 'dev-1' becomes a reserved id.
        var (code, output, error) = await InvokeAsync(["credentials", "--Broker:DeviceSecret", "s3cret", "--Broker:ClientIdPrefix=dev", "dev-1"], new RecordingService());

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("'dev-1' starts with 'dev'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_SecretStartingWithAt_IsTheSecretNotAFile()
    {
        var (code, output, _) = await InvokeAsync(["credentials", "--Broker:DeviceSecret", "@s3cret", "shoe-00001"], new RecordingService());

        Assert.Equal(0, code);
        Assert.Equal($"shoe-00001 {Telemetry.Ingest.Broker.DeviceCredentials.Token("shoe-00001", "@s3cret")}", output.Trim());
    }

    [Fact]
    public async Task Credentials_WithoutDevices_FailsSayingWhatIsMissing()
    {
        var (code, output, error) = await InvokeAsync(["credentials", "--Broker:DeviceSecret", "s3cret"], new RecordingService());

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("name at least one DEVICE_ID, or --simulated N", error, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Output, string Error)> InvokeAsync(string[] args, RecordingService service)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await IngestCommandLine.InvokeAsync(args, service.RunAsync, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Stands in for the service: keeps the arguments it was started with.</summary>
    private sealed class RecordingService(int exitCode = 0)
    {
        public string[]? Args { get; private set; }

        public Task<int> RunAsync(string[] args)
        {
            Args = args;
            return Task.FromResult(exitCode);
        }
    }
}
