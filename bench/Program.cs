using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using Telemetry.Bench.Drain;
using Telemetry.Bench.Load;

// `load` plays devices against a running service (bench/Load); `drain` times a backlog drain end to end
// (bench/Drain); anything else is BenchmarkDotNet's.
if (args is ["load", .. var rest])
{
    return await LoadCommand.RunAsync(rest);
}

if (args is ["drain", .. var drainArgs])
{
    return await DrainCommand.RunAsync(drainArgs);
}

// BenchmarkDotNet builds each benchmark in a child project and gives up after 2 minutes by default, which a 2-core
// machine shared with other builds can exceed (it did on 2026-11-26); a longer wait costs nothing when it is fast.
BenchmarkSwitcher.FromAssembly(typeof(Telemetry.Bench.DecodeBenchmarks).Assembly)
    .Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(10)));
return 0;
