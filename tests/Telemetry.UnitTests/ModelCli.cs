using System.Globalization;
using Telemetry.Models.Cli;
using Telemetry.Models.Rul;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Runs the models command line in-process, as a user would from a shell, and keeps what it printed.</summary>
internal static class ModelCli
{
    public static async Task<(int Code, string Output, string Error)> InvokeAsync(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await ModelCommands.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The predictions predict-rul wrote to <paramref name="path"/> ('unit,rul,p10,p90'), by unit.</summary>
    public static Dictionary<string, RulEstimate> ReadPredictions(string path)
    {
        var lines = File.ReadAllLines(path);
        Assert.Equal("unit,rul,p10,p90", lines[0]);
        return lines.Skip(1).Select(l => l.Split(',')).ToDictionary(
            f => f[0],
            f => new RulEstimate(double.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[2], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture)),
            StringComparer.Ordinal);
    }
}
