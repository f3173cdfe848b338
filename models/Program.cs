using Telemetry.Models.Cli;

return await ModelCommands.RunAsync(args, Console.Out, Console.Error);
