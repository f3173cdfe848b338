using System.Text.RegularExpressions;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary><c>dotnet run --project models -- …</c> in process: help, typos and where progress goes.</summary>
public sealed partial class ModelCommandsTests
{
    [Fact]
    public async Task Help_ListsTheVerbs()
    {
        var (code, output, error) = await ModelCli.InvokeAsync(["--help"]);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        foreach (var verb in (string[])["train ", "train-rul", "predict-rul", "evaluate-faults"])
        {
            Assert.Contains(verb, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task NoVerb_FailsWithTheListOfVerbsOnStandardError()
    {
        var (code, output, error) = await ModelCli.InvokeAsync([]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("Required command was not provided.", error, StringComparison.Ordinal);
        Assert.Contains("evaluate-faults", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("train", new[] { "--devices <N>", "[default: 2400]", "--seed <S>", "[default: 11]", "--out <DIR>", "[default: models/trained]" })]
    [InlineData("train-rul", new[] { "--csv <FILE> (REQUIRED)", "--unit <COLUMN>", "each file is one unit", "--time <COLUMN> (REQUIRED)", "--out <MODEL.zip> (REQUIRED)", "--cap <N>", "[default: none]", "--end-when <COLUMN<VALUE>", "--smooth <N>", "[default: 1]", "--window <W>", "[default: 15]", "--trees <T>", "[default: 200]", "--seed <S>", "[default: 7]", "--budget <TIME>", "[default: 00:01:00]", "--folds <K>", "[default: 5]", "--require-better" })]
    [InlineData("predict-rul", new[] { "--model <MODEL.zip> (REQUIRED)", "--csv <FILE> (REQUIRED)", "--unit <COLUMN>", "--time <COLUMN> (REQUIRED)", "--out <PREDICTIONS.csv> (REQUIRED)", "unit,rul,p10,p90" })]
    [InlineData("evaluate-faults", new[] { "--devices <N>", "[default: 2000]", "--seed <S>", "[default: 101]", "--days <D>", "[default: 180]" })]
    public async Task VerbHelp_ListsItsOptionsWithDefaults(string verb, string[] expected)
    {
        var (code, output, error) = await ModelCli.InvokeAsync([verb, "--help"]);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        foreach (var text in expected)
        {
            Assert.Contains(text, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--windw", "--window", new[] { "train-rul", "--csv", "a.csv", "--unit", "engine", "--time", "cycle", "--out", "m.zip", "--windw", "20" })]
    [InlineData("--device", "--devices", new[] { "evaluate-faults", "--device", "20" })]
    [InlineData("--modle", "--model", new[] { "predict-rul", "--modle", "m.zip", "--csv", "a.csv", "--unit", "engine", "--time", "cycle", "--out", "p.csv" })]
    [InlineData("--sed", "--seed", new[] { "train", "--sed", "3" })]
    public async Task MistypedOption_FailsNamingTheRightOne_WithNothingOnStandardOutput(string typo, string meant, string[] args)
    {
        var (code, output, error) = await ModelCli.InvokeAsync(args);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains($"Unrecognized option '{typo}'. Did you mean {meant}", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OptionLikeNoOther_FailsListingTheVerbsOptions()
    {
        var (code, output, error) = await ModelCli.InvokeAsync(["train", "--gpu", "1"]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("Unrecognized option '--gpu'. The options of 'train' are --devices, --seed, --out", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--trees", "0")]
    [InlineData("--window", "-3")]
    [InlineData("--cap", "0")]
    [InlineData("--candidates", "0")]
    public async Task NonPositiveNumber_FailsNamingTheOption(string option, string value)
    {
        var (code, output, error) = await ModelCli.InvokeAsync(["train-rul", "--csv", "a.csv", "--unit", "engine", "--time", "cycle", "--out", "m.zip", option, value]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains($"{option} must be a positive number (was '{value}').", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--folds", "1" }, "--folds must be at least 2 (was '1').")]
    [InlineData(new[] { "--smooth", "0", "--end-when", "x<1" }, "--smooth must be a positive number (was '0').")]
    [InlineData(new[] { "--smooth", "5" }, "--smooth smooths the --end-when column; give --end-when too, or leave --smooth out.")]
    public async Task OptionThatCannotWork_FailsSayingWhy(string[] options, string expected)
    {
        var (code, output, error) = await ModelCli.InvokeAsync(["train-rul", "--csv", "a.csv", "--time", "cycle", "--out", "m.zip", .. options]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2x")]
    [InlineData("-5s")]
    [InlineData("soon")]
    public async Task Budget_ThatIsNoDuration_FailsSayingWhatIsExpected(string value)
    {
        var (code, output, error) = await ModelCli.InvokeAsync(["train-rul", "--csv", "a.csv", "--time", "cycle", "--out", "m.zip", "--budget", value]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains($"--budget must be a duration such as 60s, 5m or 0 (was '{value}').", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EvaluateFaults_ReportsProgressOnStandardError_AndOnlyTheTableOnStandardOutput()
    {
        var (code, output, error) = await ModelCli.InvokeAsync(["evaluate-faults", "--devices", "20", "--days", "30"]);

        Assert.Equal(0, code);
        Assert.StartsWith("| measure | result | target |", output.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("[", output, StringComparison.Ordinal);
        var lines = error.Trim().Split('\n');
        Assert.All(lines, l => Assert.Matches(Elapsed(), l));
        Assert.Equal(
            ["simulating 20 devices for 30 days (seed 101)", .. Enumerable.Range(1, 9).Select(i => $"{2 * i}/20 devices simulated and scored"), "done"],
            lines.Select(l => Elapsed().Replace(l, string.Empty).TrimEnd()));
    }

    [GeneratedRegex(@"^\[ *\d+\.\d s\] ")]
    private static partial Regex Elapsed();
}
