using BenchmarkDotNet.Running;
using Telemetry.Bench.Load;

// `load` plays devices against a running service (bench/Load); anything else is BenchmarkDotNet's.
if (args is ["load", .. var rest])
{
    return await LoadCommand.RunAsync(rest);
}

BenchmarkSwitcher.FromAssembly(typeof(Telemetry.Bench.DecodeBenchmarks).Assembly).Run(args);
return 0;
