using Telemetry.Models.Cli;

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
}
