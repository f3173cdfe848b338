using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Simulation;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Console;

/// <summary>
/// Logs where the console is once the server listens. The demo (<c>--simulate</c>) with its generated admin key
/// logs a link that opens the console signed in, as the README's first step; with configured keys the link
/// carries none, since a key in a log line would outlive its rotation.
/// </summary>
internal sealed partial class ConsoleLink(
    IServer server, IHostApplicationLifetime lifetime, IOptions<SimulationOptions> simulation, IOptions<ApiOptions> api,
    IOptions<StorageOptions> storage, ILogger<ConsoleLink> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(LogLink);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void LogLink()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null)
        {
            return;
        }

        var root = address.TrimEnd('/') + "/";
        var demoKey = ApiKeyFile.DemoPath(storage.Value.DataDirectory);
        if (simulation.Value.Devices > 0 && api.Value.Keys.Count == 0 && api.Value.KeyFile.Length == 0 && File.Exists(demoKey))
        {
            var link = root + "?key=" + Uri.EscapeDataString(File.ReadAllText(demoKey).Trim());
            LogSignedInLink(logger, link);
        }
        else
        {
            LogConsole(logger, root);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Operator console (signed in with the demo key): {Link}")]
    private static partial void LogSignedInLink(ILogger logger, string link);

    [LoggerMessage(Level = LogLevel.Information, Message = "Operator console: {Link} (sign in with an API key)")]
    private static partial void LogConsole(ILogger logger, string link);
}
