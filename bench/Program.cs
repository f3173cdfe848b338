using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using Telemetry.Bench;
using Telemetry.Models.Cli;

// `load` plays devices against a running service (bench/Load); `drain` times a backlog drain end to end
// (bench/Drain); `--help` lists both. Anything else is BenchmarkDotNet's, with its own options.
if (BenchCommandLine.IsVerb(args))
{
    return await VerbRunner.InvokeAsync(VerbRunner.Parse(BenchCommandLine.Create(), args), Console.Out, Console.Error);
}

// BenchmarkDotNet builds each benchmark in a child project and gives up after 2 minutes by default, which a 2-core
// machine shared with other builds can exceed (it did on 2026-11-26); a longer wait costs nothing when it is fast.
BenchmarkSwitcher.FromAssembly(typeof(Telemetry.Bench.DecodeBenchmarks).Assembly)
    .Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(10)));
return 0;
