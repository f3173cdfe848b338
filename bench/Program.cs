using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Telemetry.Bench.DecodeBenchmarks).Assembly).Run(args);
