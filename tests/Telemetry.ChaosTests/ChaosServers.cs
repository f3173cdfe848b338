using System.Globalization;
using System.Net;
using System.Text.Json;
using Telemetry.IntegrationTests;

namespace Telemetry.ChaosTests;

/// <summary>
/// One scenario's production shape on real servers: Mosquitto with the shipped configuration and a password
/// per device, InfluxDB 1.6.7 (or line files), optionally Redis for the twins, and the service as its own
/// process in external broker mode. Every server can be killed, frozen and restarted on its ports.
/// </summary>
public sealed class ChaosServers : IAsyncDisposable
{
    public const string Secret = "chaos-device-secret";
    public const string Database = "telemetry";

    private readonly string _secretFile;

    /// <param name="prefix">Device ids are <c>{prefix}-00000</c>…, as the load tool names them.</param>
    /// <param name="influx">Store readings in InfluxDB; false: line files under the service's data directory.</param>
    /// <param name="redis">Twins in Redis (<c>--Twins:Store Redis</c>) instead of the default store.</param>
    /// <param name="mosquittoConfig">Appended to Mosquitto's shipped configuration.</param>
    /// <param name="serviceArgs">More service options, after the stack's own.</param>
    public ChaosServers(string prefix, int devices, bool influx = true, bool redis = false, string? mosquittoConfig = null, params string[] serviceArgs)
        : this(prefix, devices, influx, redis, cluster: false, mosquittoConfig, serviceArgs)
    {
    }

    /// <param name="cluster">Two instances of the service in one Orleans cluster on Redis (membership and twins), sharing
    /// the devices' messages through a Mosquitto shared subscription: <see cref="Service"/> and <see cref="Peer"/>.</param>
    public ChaosServers(string prefix, int devices, bool influx, bool redis, bool cluster, string? mosquittoConfig, params string[] serviceArgs)
    {
        redis |= cluster;
        Prefix = prefix;
        DeviceIds = [.. Enumerable.Range(0, devices).Select(i => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i:D5}")), $"{prefix}probe-00000"];
        Mosquitto = new MosquittoServer(Secret, DeviceIds, mosquittoConfig is null ? null : _ => mosquittoConfig);
        Influx = influx ? new InfluxServer() : null;
        Redis = redis ? new DurableRedisServer() : null;
        _secretFile = Path.Combine(Mosquitto.Directory, "device-secret");
        File.WriteAllText(_secretFile, Secret);
        string[] common =
        [
            "--Broker:Mode", "External",
            "--Broker:Host", "127.0.0.1",
            "--Broker:Port", Mosquitto.ServicePort.ToString(CultureInfo.InvariantCulture),
            "--Broker:Username", MosquittoServer.ServiceUser,
            "--Broker:Password", MosquittoServer.ServicePassword,
            .. Influx is null ? [] : (string[])
            [
                "--Influx:Url", Influx.Url.ToString(),
                "--Influx:Database", Database,
                "--Influx:RetryDelay", "00:00:00.100",
                "--Influx:MaxRetryDelay", "00:00:01",
            ],
            .. Redis is null ? [] : (string[])["--Twins:Store", "Redis", "--Twins:Redis", $"127.0.0.1:{Redis.Port}"],
            .. cluster ? (string[])
            [
                "--Orleans:Clustering:ProviderType", "Redis",
                "--Orleans:Clustering:ServiceKey", "redis",
                "--Orleans:Reminders:ProviderType", "Redis",
                "--Orleans:Reminders:ServiceKey", "redis",
                "--ConnectionStrings:redis", $"127.0.0.1:{Redis!.Port}",
                "--Orleans:ClusterId", prefix,
                "--Orleans:ServiceId", "telemetry",
                "--Orleans:AdvertisedAddress", "127.0.0.1",
                "--Broker:SharedGroup", "ingest",
            ] : [],
        ];
        Service = new ServiceProcess([.. common, .. cluster ? (string[])["--Broker:ClientIdPrefix", "node-a"] : [], .. serviceArgs]);
        Peer = cluster ? new ServiceProcess([.. common, "--Broker:ClientIdPrefix", "node-b", .. serviceArgs]) : null;
    }

    public string Prefix { get; }

    public IReadOnlyList<string> DeviceIds { get; }

    public MosquittoServer Mosquitto { get; }

    public InfluxServer? Influx { get; }

    public DurableRedisServer? Redis { get; }

    public ServiceProcess Service { get; }

    /// <summary>The cluster's second instance; null for a single node.</summary>
    public ServiceProcess? Peer { get; }

    /// <summary>Starts the servers the service depends on; the service itself when <paramref name="service"/>.</summary>
    public async Task StartAsync(bool service = true)
    {
        await Task.WhenAll(
            Mosquitto.StartAsync(),
            Influx?.StartAsync() ?? Task.CompletedTask,
            Redis?.StartAsync() ?? Task.CompletedTask);
        if (service)
        {
            await Service.StartAsync();
            if (Peer is not null)
            {
                await Peer.StartAsync();
            }
        }
    }

    /// <summary>Starts the load tool against Mosquitto's device listener, each device with its own password.</summary>
    public LoadRun StartLoad(params string[] options) => LoadRun.Start(
    [
        "--port", Mosquitto.Port.ToString(CultureInfo.InvariantCulture),
        "--device-secret", _secretFile,
        "--prefix", Prefix,
        .. options,
    ]);

    /// <summary>Readings the store holds for this stack's devices, of any message, acked or not.</summary>
    public async Task<long> StoredTotalAsync()
    {
        if (Influx is null)
        {
            return LineFiles().Count;
        }

        return await Influx.CountAsync(Database, $"SELECT count(seq) FROM shoe WHERE device =~ /^{Prefix}-/");
    }

    /// <summary>
    /// Set accounting after a run: per device, the readings of acked messages (their timestamps are known)
    /// that the store holds, and the readings its twin counted.
    /// </summary>
    public async Task<Accounting> AccountAsync(LoadResult load)
    {
        var stored = Influx is null ? StoredAckedInFiles(load) : await StoredAckedInInfluxAsync(load);
        var lost = load.Devices.Sum(d => Math.Max(0, d.ReadingsAcked - stored[d.Id]));
        long duplicates = 0, twinMissing = 0;
        try
        {
            foreach (var device in load.Devices)
            {
                var twin = await TwinReadingsAsync(device.Id);
                duplicates += Math.Max(0, twin - device.ReadingsSent);
                twinMissing += Math.Max(0, device.ReadingsAcked - twin);
            }
        }
        catch (HttpRequestException e)
        {
            // The store can still be counted; the twins live in the service, which is gone.
            return new Accounting(load.ReadingsAcked, stored.Values.Sum(), lost, 0, 0, $"twins unreadable: {e.Message}");
        }

        return new Accounting(load.ReadingsAcked, stored.Values.Sum(), lost, duplicates, twinMissing, null);
    }

    /// <summary>
    /// Polls the accounting until nothing acked is missing from the store or the twins, or the bound passes
    /// (at once when the service has exited: nothing will change then).
    /// </summary>
    public async Task<Accounting> SettledAccountingAsync(LoadResult load, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var accounting = await AccountAsync(load);
            var settled = accounting.Lost == 0 && accounting.TwinMissing == 0 && accounting.TwinsUnreadable is null;
            if (settled || DateTime.UtcNow > deadline || !ServiceAlive)
            {
                return accounting;
            }

            await Task.Delay(500);
        }
    }

    public bool ServiceAlive => Alive(Service) || (Peer is not null && Alive(Peer));

    private static bool Alive(ServiceProcess service) => service.ProcessId is { } pid && ProcessSignals.IsAlive(pid);

    /// <summary>The API of an instance that is up: in a cluster any instance reaches every twin.</summary>
    private HttpClient Api => Peer is not null && !Alive(Service) ? Peer.Http : Service.Http;

    public async Task<HttpStatusCode> HealthAsync()
    {
        try
        {
            using var response = await Service.Http.GetAsync(new Uri("health", UriKind.Relative));
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Service.DisposeAsync();
        if (Peer is not null)
        {
            await Peer.DisposeAsync();
        }

        await Mosquitto.DisposeAsync();
        if (Influx is not null)
        {
            await Influx.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }

    private async Task<long> TwinReadingsAsync(string id)
    {
        using var response = await Api.GetAsync(new Uri($"api/devices/{id}", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return 0;
        }

        response.EnsureSuccessStatusCode();
        var twin = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return twin.GetProperty("totals").GetProperty("readings").GetInt64();
    }

    /// <summary>One InfluxQL statement per device, sent together: count the points before its acked boundary.</summary>
    private async Task<Dictionary<string, long>> StoredAckedInInfluxAsync(LoadResult load)
    {
        var statements = load.Devices.Select(d => string.Create(CultureInfo.InvariantCulture,
            $"SELECT count(seq) FROM shoe WHERE device = '{d.Id}' AND time >= {load.BaseMs}ms AND time < {load.AckedBeforeMs(d)}ms"));
        using var http = new HttpClient { BaseAddress = Influx!.Url };
        using var response = await http.PostAsync(new Uri("query?epoch=ms", UriKind.Relative),
            new FormUrlEncodedContent([new("db", Database), new("q", string.Join(';', statements))]));
        response.EnsureSuccessStatusCode();
        var results = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("results");
        var stored = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (device, result) in load.Devices.Zip(results.EnumerateArray()))
        {
            if (result.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException($"InfluxDB: {error.GetString()}");
            }

            stored[device.Id] = result.TryGetProperty("series", out var series) ? series[0].GetProperty("values")[0][1].GetInt64() : 0;
        }

        return stored;
    }

    private Dictionary<string, long> StoredAckedInFiles(LoadResult load)
    {
        var points = LineFiles();
        return load.Devices.ToDictionary(d => d.Id, d => (long)points.Count(p => p.Device == d.Id && p.Ms >= load.BaseMs && p.Ms < load.AckedBeforeMs(d)), StringComparer.Ordinal);
    }

    /// <summary>
    /// Distinct (device, timestamp) points of this stack's devices in the line files; a line cut short by a
    /// full disk has no timestamp and does not count.
    /// </summary>
    private HashSet<(string Device, long Ms)> LineFiles()
    {
        var points = new HashSet<(string, long)>();
        var directory = Path.Combine(Service.DataDirectory, "lines");
        if (!System.IO.Directory.Exists(directory))
        {
            return points;
        }

        var tag = $",device={Prefix}-";
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*.lp"))
        {
            foreach (var line in File.ReadLines(file))
            {
                var start = line.IndexOf(tag, StringComparison.Ordinal);
                var space = line.LastIndexOf(' ');
                if (start < 0 || space < 0 || !long.TryParse(line.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
                {
                    continue;
                }

                var idStart = start + ",device=".Length;
                var idEnd = line.IndexOfAny([',', ' '], idStart);
                points.Add((line[idStart..idEnd], ms));
            }
        }

        return points;
    }
}
