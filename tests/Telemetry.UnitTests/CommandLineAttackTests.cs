using Telemetry.Ingest.Cli;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Review attacks on the command line: what it must refuse without starting anything or echoing a secret.</summary>
public sealed class CommandLineAttackTests
{
    private const string Secret = "Sup3rSecretKeyValue-do-not-print";

    [Fact]
    public async Task Help_ExitsZero_WithoutStartingTheService()
    {
        var (code, started, _, _) = await InvokeAsync(["--help"]);
        Assert.Equal(0, code);
        Assert.False(started);
    }

    [Fact]
    public async Task Export_WithABadFormat_ExitsTwo_WithoutStartingAnything_AndWithoutEchoingTheKey()
    {
        // 127.0.0.1:9 (discard) has no listener: a network call would fail with a connection error, not a usage error.
        var (code, started, output, error) = await InvokeAsync(
            ["export", "alerts", "--format", "xlsx", "--out", Path.Combine(Path.GetTempPath(), "never.xlsx"), "--url", "http://127.0.0.1:9", "--api-key", Secret]);
        Assert.Equal(2, code);
        Assert.False(started);
        Assert.Contains("xlsx", error, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, output + error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "never.xlsx")));
    }

    /// <summary>A typo in the option that carries the key (the parser then reads the key as a stray argument).</summary>
    [Fact]
    public async Task Export_WithATypoInTheKeyOption_DoesNotEchoTheKey()
    {
        var (code, started, output, error) = await InvokeAsync(
            ["export", "alerts", "--format", "csv", "--out", Path.Combine(Path.GetTempPath(), "never.csv"), "--url", "http://127.0.0.1:9", "--api-kye", Secret]);
        Assert.Equal(2, code);
        Assert.False(started);
        Assert.DoesNotContain(Secret, output + error, StringComparison.Ordinal);
    }

    /// <summary>The key given with '=' and a typo in the option name.</summary>
    [Fact]
    public async Task Export_WithATypoInTheKeyOptionAndEquals_DoesNotEchoTheKey()
    {
        var (code, _, output, error) = await InvokeAsync(
            ["export", "alerts", "--format", "csv", "--out", Path.Combine(Path.GetTempPath(), "never.csv"), "--url", "http://127.0.0.1:9", $"--apikey={Secret}"]);
        Assert.Equal(2, code);
        Assert.DoesNotContain(Secret, output + error, StringComparison.Ordinal);
    }

    private static async Task<(int Code, bool Started, string Output, string Error)> InvokeAsync(string[] args)
    {
        var started = false;
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await IngestCommandLine.InvokeAsync(args, _ => { started = true; return Task.FromResult(0); }, output, error);
        return (code, started, output.ToString(), error.ToString());
    }
}
