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

BenchmarkSwitcher.FromAssembly(typeof(Telemetry.Bench.DecodeBenchmarks).Assembly).Run(args);
return 0;
