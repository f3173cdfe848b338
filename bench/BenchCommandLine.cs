using System.CommandLine;
using Telemetry.Bench.Drain;
using Telemetry.Bench.Load;

namespace Telemetry.Bench;

/// <summary>The bench's own verbs, <c>load</c> and <c>drain</c>; everything else on its command line is BenchmarkDotNet's.</summary>
internal static class BenchCommandLine
{
    /// <summary>The first words that are the verbs' rather than BenchmarkDotNet's.</summary>
    public static bool IsVerb(string[] args) => args is [("load" or "drain" or "--help" or "-h" or "-?"), ..];

    public static RootCommand Create() => new("""
        Telemetry's load tool and drain measurement. Anything else on the command line runs BenchmarkDotNet's
        benchmarks (e.g. -- --filter '*', -- --list flat; docs/performance.md).
        """)
    {
        LoadCommand.Create(),
        DrainCommand.Create(),
    };
}
