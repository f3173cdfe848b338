using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Telemetry.IntegrationTests;

/// <summary>
/// The service as its own process (<c>dotnet Telemetry.Ingest.dll</c>, the build of ingest/), so a test can
/// kill it with SIGKILL and start it again on the same ports and data directory.
/// </summary>
public sealed class ServiceProcess : ServerProcess
{
    private readonly string[] _args;
    private readonly HttpClient _http = new();

    public ServiceProcess(params string[] args)
        : base("service")
    {
        _args = args;
        _http.BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}/");
        _http.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
    }

    /// <summary>The admin key the service is started with (a plain string has every scope); <see cref="Http"/> sends it.</summary>
    public string ApiKey { get; } = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public int HttpPort { get; } = FreePort();

    public HttpClient Http => _http;

    public string DataDirectory => Path.Combine(Directory, "data");

    protected override (string File, IReadOnlyList<string> Args) Command()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(MosquittoServer.RepositoryRoot, "ingest", "bin", configuration, "net10.0", "Telemetry.Ingest.dll");
        return ("dotnet",
        [
            dll,
            "--contentRoot", Path.GetDirectoryName(dll)!,
            "--urls", $"http://127.0.0.1:{HttpPort}",
            "--Storage:DataDirectory", DataDirectory,
            "--Orleans:SiloPort", _siloPort,
            "--Orleans:GatewayPort", _gatewayPort,
            "--Uplink:AckInterval", "00:00:00.100",
            "--Logging:LogLevel:Default", "Warning",
            "--Api:Keys:0", ApiKey,
            .. _args,
        ]);
    }

    private readonly string _siloPort = FreePort().ToString(CultureInfo.InvariantCulture);
    private readonly string _gatewayPort = FreePort().ToString(CultureInfo.InvariantCulture);

    protected override async Task<bool> IsReadyAsync()
    {
        try
        {
            using var response = await _http.GetAsync(new Uri("health", UriKind.Relative));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            // Our own key opens the API only on our own service: another test's service that holds this port by now
            // (ports are picked before a process starts) would answer /health too.
            using var stats = await _http.GetAsync(new Uri("api/ingest/stats", UriKind.Relative));
            return stats.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async Task<JsonElement> StatsAsync() =>
        JsonDocument.Parse(await _http.GetStringAsync(new Uri("api/ingest/stats", UriKind.Relative))).RootElement;

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _http.Dispose();
    }
}
