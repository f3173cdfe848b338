using Telemetry.Bench;
using Telemetry.Models.Cli;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary><c>dotnet run --project bench -- load|drain …</c> in process, for what ends before any device or process starts.</summary>
public sealed class BenchCommandLineTests
{
    [Fact]
    public async Task Help_ListsLoadAndDrain()
    {
        var (code, output, error) = await InvokeAsync(["--help"]);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        Assert.Contains("load ", output, StringComparison.Ordinal);
        Assert.Contains("drain ", output, StringComparison.Ordinal);
        Assert.Contains("BenchmarkDotNet", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("load", new[] { "--host <HOST>", "[default: 127.0.0.1]", "--port <PORT>", "[default: 1883]", "--devices <N>", "[default: 1000]", "--messages <M>", "[default: 100]", "--readings <R>", "[default: 20]", "--window <W>", "[default: 8]", "--resend-after <SECONDS>", "[default: 5]", "--timeout <SECONDS>", "[default: 600]", "--fault-at-seq <S>", "[default: half of --messages]", "--device-secret <FILE>", "--anonymous", "--cbor", "--report <FILE>" })]
    [InlineData("drain", new[] { "--devices <N>", "[default: 500]", "--messages <M>", "[default: 100]", "--runs <K>", "[default: 1]", "--steady-share <F>", "[default: 0.5]", "--steady-warmup <W>", "[default: 10]", "--service-arg <ARG>", "--service-env <NAME=VALUE>", "--cluster <N>", "--keep" })]
    public async Task VerbHelp_ListsItsOptionsWithDefaults(string verb, string[] expected)
    {
        var (code, output, error) = await InvokeAsync([verb, "--help"]);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        foreach (var text in expected)
        {
            Assert.Contains(text, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--devise", "--devices", new[] { "load", "--anonymous", "--devise", "3" })]
    [InlineData("--resend", "--resend-after", new[] { "load", "--anonymous", "--resend", "3" })]
    [InlineData("--servce-arg", "--service-arg", new[] { "drain", "--servce-arg", "--Pipeline:Partitions=4" })]
    public async Task MistypedOption_FailsNamingTheRightOne_WithNothingOnStandardOutput(string typo, string meant, string[] args)
    {
        var (code, output, error) = await InvokeAsync(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains($"Unrecognized option '{typo}'. Did you mean {meant}", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "load", "--devices", "3" }, "load: say who the devices are: exactly one of --device-secret FILE, --username/--password, --anonymous")]
    [InlineData(new[] { "load", "--anonymous", "--readings", "501" }, "load: --devices, --messages and --window must be at least 1, --readings 1..500")]
    [InlineData(new[] { "drain", "--service-env", "DOTNET_gcServer" }, "drain: --service-env wants NAME=VALUE, not DOTNET_gcServer")]
    [InlineData(new[] { "drain", "--cluster", "2", "--influx" }, "drain: --cluster measures the files drain and steady load only")]
    public async Task OptionsThatMakeNoRun_AreRefusedWithTheReason(string[] args, string expected)
    {
        var (code, output, error) = await InvokeAsync(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionGivenTwice_TakesItsLastValue_AsScriptsThatOverrideABaseCommandLineExpect()
    {
        var result = VerbRunner.Parse(BenchCommandLine.Create(), ["load", "--anonymous", "--prefix", "chaos", "--devices", "5", "--prefix", "probe", "--devices=1"]);

        Assert.Empty(result.Errors);
        Assert.Equal("probe", result.GetValue<string>("--prefix"));
        Assert.Equal(1, result.GetValue<int>("--devices"));
        Assert.True(result.GetValue<bool>("--anonymous"));
    }

    [Theory]
    [InlineData("--passwrd", "hunter2secret")]
    [InlineData("--device-secert", "fleet-secret-0123")]
    public async Task MistypedSecretOption_IsRefused_WithoutEchoingTheSecret(string option, string secret)
    {
        var (code, output, error) = await InvokeAsync(["load", "--username", "svc", option, secret]);
        var (codeEquals, outputEquals, errorEquals) = await InvokeAsync(["load", "--username", "svc", $"{option}={secret}"]);

        Assert.Equal(VerbRunner.UsageError, code);
        Assert.Equal(VerbRunner.UsageError, codeEquals);
        Assert.Contains($"Unrecognized option '{option}'", error, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, output + error + outputEquals + errorEquals, StringComparison.Ordinal);
    }

    [Fact]
    public void OnlyTheVerbsAndHelp_AreTakenFromBenchmarkDotNet()
    {
        Assert.True(BenchCommandLine.IsVerb(["load", "--anonymous"]));
        Assert.True(BenchCommandLine.IsVerb(["--help"]));
        Assert.False(BenchCommandLine.IsVerb(["--filter", "*"]));
        Assert.False(BenchCommandLine.IsVerb([]));
    }

    private static async Task<(int Code, string Output, string Error)> InvokeAsync(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await VerbRunner.InvokeAsync(VerbRunner.Parse(BenchCommandLine.Create(), args), output, error);
        return (code, output.ToString(), error.ToString());
    }
}
