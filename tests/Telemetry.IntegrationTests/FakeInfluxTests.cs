using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// What InfluxDB 1.6.7 cannot show: the v2 write API (path, org, bucket, token), and answers such as 429 with
/// Retry-After and 503, from a loopback HTTP server that records each request and answers as scripted.
/// </summary>
public sealed class FakeInfluxTests : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<(int Status, string? RetryAfter)> _script = new();
    private readonly ConcurrentQueue<(string PathAndQuery, string? Authorization, string? Encoding, string Body)> _requests = new();
    private readonly string _data = Directory.CreateTempSubdirectory("telemetry-fake-").FullName;
    private readonly StorageCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
    private readonly int _port = ServerProcess.FreePort();

    public FakeInfluxTests()
    {
        _listener.Prefixes.Add($"http://127.0.0.1:{_port}/");
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    public void Dispose()
    {
        _listener.Close();
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task V2Write_UsesTheV2PathOrgBucketTokenAndGzip()
    {
        var client = new InfluxClient(new HttpClient(), new InfluxOptions
        {
            Url = $"http://127.0.0.1:{_port}",
            ApiVersion = InfluxApiVersion.V2,
            Org = "acme shoes",
            Bucket = "telemetry",
            Token = "t0ken",
        }, TimeProvider.System);

        var response = await client.WriteAsync(Encoding.UTF8.GetBytes("shoe,device=d steps=1i 1000\n"), CancellationToken.None);

        Assert.Equal(WriteOutcome.Written, response.Outcome);
        var request = Assert.Single(_requests);
        Assert.Equal("/api/v2/write?org=acme%20shoes&bucket=telemetry&precision=ms", request.PathAndQuery);
        Assert.Equal("Token t0ken", request.Authorization);
        Assert.Equal("gzip", request.Encoding);
        Assert.Equal("shoe,device=d steps=1i 1000\n", request.Body);
    }

    [Fact]
    public async Task V1Write_UsesDatabaseRetentionPolicyAndBasicAuth()
    {
        var client = new InfluxClient(new HttpClient(), new InfluxOptions
        {
            Url = $"http://127.0.0.1:{_port}/",
            Database = "telemetry",
            RetentionPolicy = "one_year",
            Username = "writer",
            Password = "secret",
        }, TimeProvider.System);

        await client.WriteAsync(Encoding.UTF8.GetBytes("shoe,device=d steps=1i 1000\n"), CancellationToken.None);

        var request = Assert.Single(_requests);
        Assert.Equal("/write?db=telemetry&precision=ms&rp=one_year", request.PathAndQuery);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("writer:secret")), request.Authorization);
    }

    [Fact]
    public async Task TooManyRequestsAndUnavailable_AreRetriedUntilWritten()
    {
        _script.Enqueue((429, "1"));
        _script.Enqueue((503, null));
        var store = new InfluxStore(new HttpClient(), Options.Create(new InfluxOptions
        {
            Url = $"http://127.0.0.1:{_port}",
            RetryDelay = TimeSpan.FromMilliseconds(20),
            CreateDatabase = false,
        }), Options.Create(new StorageOptions { DataDirectory = _data }), _counters, new ComponentHealth(TimeProvider.System), TimeProvider.System, NullLogger<InfluxStore>.Instance);
        await store.StartAsync(CancellationToken.None);

        var stored = await store.StoreAsync(Encoding.UTF8.GetBytes("shoe,device=d steps=1i 1000\n"), 1, CancellationToken.None);
        await store.StopAsync(CancellationToken.None);
        store.Dispose();

        Assert.True(stored);
        Assert.Equal(3, _requests.Count);
        Assert.Equal(2, _counters.Retries);
        Assert.Equal(1, _counters.Written);
        Assert.Equal(0, _counters.Spilled);
    }

    [Fact]
    public async Task LongOutage_SpillsToDiskWithoutGrowingTheHeap()
    {
        // Nothing listens on this port: every write fails at once, as during an outage of any length.
        var store = new InfluxStore(new HttpClient(), Options.Create(new InfluxOptions
        {
            Url = $"http://127.0.0.1:{ServerProcess.FreePort()}",
            Attempts = 1,
            RetryDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryDelay = TimeSpan.FromSeconds(1),
            CreateDatabase = false,
        }), Options.Create(new StorageOptions { DataDirectory = _data }), _counters, new ComponentHealth(TimeProvider.System), TimeProvider.System, NullLogger<InfluxStore>.Instance);
        await store.StartAsync(CancellationToken.None);
        var batch = new StringBuilder();
        for (var i = 0; i < 500; i++)
        {
            batch.Append(System.Globalization.CultureInfo.InvariantCulture, $"shoe,device=shoe-{i % 50:D5},model=aerorun-3,batch=2025w28 distance_m={i}.5,steps={i}i,boot=\"b1\",seq={i}i {1_700_000_000_000 + i}\n");
        }

        var payload = Encoding.UTF8.GetBytes(batch.ToString());
        Assert.True(await store.StoreAsync(payload, 500, CancellationToken.None));
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 400; i++)
        {
            Assert.True(await store.StoreAsync(payload, 500, CancellationToken.None));
        }

        var heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        var spilledBytes = new FileInfo(Path.Combine(_data, "influx-spill.lp")).Length;
        await store.StopAsync(CancellationToken.None);
        store.Dispose();

        Assert.Equal(401 * 500, _counters.Spilled);
        Assert.Equal(401L * payload.Length, spilledBytes);
        Assert.True(heapGrowth < spilledBytes / 8, $"heap grew {heapGrowth >> 10} KiB while {spilledBytes >> 10} KiB were spilled");
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var body = context.Request.Headers["Content-Encoding"] == "gzip"
                ? (Stream)new GZipStream(context.Request.InputStream, CompressionMode.Decompress)
                : context.Request.InputStream;
            using var reader = new StreamReader(body, Encoding.UTF8);
            _requests.Enqueue((context.Request.Url!.PathAndQuery, context.Request.Headers["Authorization"], context.Request.Headers["Content-Encoding"], await reader.ReadToEndAsync()));
            var (status, retryAfter) = _script.TryDequeue(out var next) ? next : (204, null);
            context.Response.StatusCode = status;
            if (retryAfter is not null)
            {
                context.Response.AddHeader("Retry-After", retryAfter);
            }

            context.Response.Close();
        }
    }
}
