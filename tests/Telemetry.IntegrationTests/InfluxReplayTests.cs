using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>
/// Replay against a real InfluxDB 1.6.7 that refuses one spilled line, and start-up against an InfluxDB that
/// accepts connections and never answers.
/// </summary>
public sealed class InfluxReplayTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("telemetry-replay-").FullName;
    private readonly StorageCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
    private readonly ComponentHealth _health = new(TimeProvider.System);

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task SpilledLineInfluxRefuses_IsDeadLetteredAndTheLinesAroundItStored()
    {
        await using var influx = new InfluxServer();
        await influx.StartAsync();
        await influx.CreateDatabaseAsync("replay");
        var options = new InfluxOptions { Url = influx.Url.ToString(), Database = "replay", Attempts = 1, RetryDelay = TimeSpan.FromMilliseconds(50) };
        var first = await new InfluxClient(new HttpClient(), options, TimeProvider.System)
            .WriteAsync("m,device=d f=1i 1000\n"u8.ToArray(), CancellationToken.None);
        Assert.Equal(WriteOutcome.Written, first.Outcome);

        // f is an integer now, so the string in the middle of the spill is a field type conflict: 400 for ever.
        var spill = new StringBuilder();
        for (var i = 2; i <= 9; i++)
        {
            spill.Append(i == 5 ? "m,device=d f=\"x\" 5000\n" : $"m,device=d f={i}i {i * 1000}\n");
        }

        File.WriteAllText(Path.Combine(_data, "influx-spill.lp"), spill.ToString());
        var store = Store(options);
        await store.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => !store.Spilling, "the spill was not replayed past the refused line");
        await store.StopAsync(CancellationToken.None);
        store.Dispose();

        Assert.Equal(8, await influx.CountAsync("replay", "SELECT count(f) FROM m"));
        Assert.Equal((7, 1), (_counters.Replayed, _counters.DeadLettered));
        var deadLetter = File.ReadAllLines(Directory.GetFiles(Path.Combine(_data, "deadletter")).Single());
        Assert.Equal(2, deadLetter.Length);
        Assert.Contains("field type conflict", deadLetter[0], StringComparison.Ordinal);
        Assert.Equal("m,device=d f=\"x\" 5000", deadLetter[1]);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    [Fact]
    public async Task InfluxThatNeverAnswers_DoesNotHoldStartUpAndWritesSpillUntilItAnswers()
    {
        await using var influx = new SilentInflux();
        var store = Store(new InfluxOptions
        {
            Url = $"http://127.0.0.1:{influx.Port}",
            RequestTimeout = TimeSpan.FromMilliseconds(300),
            Attempts = 1,
            RetryDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryDelay = TimeSpan.FromMilliseconds(500),
        });

        // Start-up used to wait for CREATE DATABASE. The guard only stops a hang from hanging the suite.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await store.StartAsync(guard.Token).WaitAsync(guard.Token);
        Assert.Equal(0, influx.Answered);

        var written = new List<string>();
        for (var batch = 0; batch < 10; batch++)
        {
            var lines = Enumerable.Range(batch * 5, 5).Select(i => $"m,device=d{i % 3} seq={i}i {1_000 + i}").ToList();
            written.AddRange(lines);
            var body = Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n");
            Assert.True(await store.StoreAsync(body, 5, guard.Token), "a write was not made durable");
        }

        Assert.Equal((50, 0), (_counters.Spilled, _counters.Written));
        Assert.True(influx.Held > 0, "the store never reached the silent server");
        var state = Assert.Single(_health.Failing());
        Assert.Equal(("store", HealthStatus.Degraded), (state.Key, state.Value.Status));
        Assert.Contains("bytes spilled, replaying", state.Value.Reason, StringComparison.Ordinal);

        influx.Answering = true;
        await WaitUntilAsync(() => !store.Spilling, "the spill was not replayed once InfluxDB answered");
        await store.StopAsync(CancellationToken.None);
        store.Dispose();

        Assert.Equal(written.Order(StringComparer.Ordinal), influx.Lines.Order(StringComparer.Ordinal));
        Assert.Equal(50, _counters.Replayed);
        Assert.Equal(HealthStatus.Healthy, _health.Worst());
    }

    [Fact]
    public async Task ServiceWithAnInfluxThatNeverAnswers_StartsAndSaysDegraded()
    {
        // Before, CREATE DATABASE at start-up waited for HttpClient's 100 s and its exception stopped the host.
        await using var influx = new SilentInflux();
        await using var service = new ServiceProcess("--Influx:Url", $"http://127.0.0.1:{influx.Port}", "--Influx:RequestTimeout", "00:00:00.500");
        await service.StartAsync();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await service.Http.GetAsync(new Uri("health", UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            if (body.Contains("store: ", StringComparison.Ordinal))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.StartsWith("Degraded: ", body, StringComparison.Ordinal);
                Assert.Contains("store: InfluxDB unavailable since ", body, StringComparison.Ordinal);
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"/health never named the store: {body}\n{service.Output}");
            await Task.Delay(100);
        }

        Assert.True(influx.Held >= 1, "the service never reached the silent InfluxDB");
    }

    private InfluxStore Store(InfluxOptions options) => new(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, Options.Create(options),
        Options.Create(new StorageOptions { DataDirectory = _data }), _counters, _health, TimeProvider.System, NullLogger<InfluxStore>.Instance);

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// A TCP listener that accepts every connection and reads each request, but answers only once
    /// <see cref="Answering"/> is set (then 204 to writes, recording their lines, and 200 to queries), as an
    /// overloaded InfluxDB or a proxy in front of a dead one does.
    /// </summary>
    private sealed class SilentInflux : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<string, bool> _lines = new(StringComparer.Ordinal);
        private readonly Task _accepting;
        private int _held;
        private int _answered;

        public SilentInflux()
        {
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public volatile bool Answering;

        public int Held => Volatile.Read(ref _held);

        public int Answered => Volatile.Read(ref _answered);

        /// <summary>Distinct lines written: like InfluxDB, a line written twice is stored once.</summary>
        public IEnumerable<string> Lines => _lines.Keys;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    _ = Task.Run(() => ServeAsync(client));
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            try
            {
                while (true)
                {
                    var (path, body) = await ReadRequestAsync(stream);
                    if (path is null)
                    {
                        return;
                    }

                    if (!Answering)
                    {
                        Interlocked.Increment(ref _held);
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                    }

                    Interlocked.Increment(ref _answered);
                    string reply;
                    if (path.StartsWith("/write", StringComparison.Ordinal))
                    {
                        using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
                        using var reader = new StreamReader(gzip, Encoding.UTF8);
                        foreach (var line in (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                        {
                            _lines[line] = true;
                        }

                        reply = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
                    }
                    else
                    {
                        reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"results\":[{}]}";
                    }

                    await stream.WriteAsync(Encoding.ASCII.GetBytes(reply), _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }

        /// <summary>Reads one request: its path and body (by Content-Length); a null path when the client left.</summary>
        private async Task<(string? Path, byte[] Body)> ReadRequestAsync(NetworkStream stream)
        {
            var head = new List<byte>();
            var one = new byte[1];
            while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                if (await stream.ReadAsync(one, _stop.Token) == 0)
                {
                    return (null, []);
                }

                head.Add(one[0]);
            }

            var lines = Encoding.ASCII.GetString([.. head]).Split("\r\n");
            var path = lines[0].Split(' ')[1];
            var length = lines.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                .Select(p => int.Parse(p[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
            var body = new byte[length];
            await stream.ReadExactlyAsync(body, _stop.Token);
            return (path, body);
        }
    }
}
