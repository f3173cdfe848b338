using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.IntegrationTests;

/// <summary>The line-protocol writer and the store against a real InfluxDB 1.6.7.</summary>
public sealed class InfluxWriteTests : IAsyncLifetime
{
    private const string Database = "writes";
    private readonly InfluxServer _influx = new("max-body-size = 4000");
    private readonly string _data = Directory.CreateTempSubdirectory("telemetry-store-").FullName;
    private readonly StorageCounters _counters = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());

    public async Task InitializeAsync()
    {
        await _influx.StartAsync();
        await _influx.CreateDatabaseAsync(Database);
    }

    public async Task DisposeAsync()
    {
        await _influx.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("with space")]
    [InlineData("comma,inside")]
    [InlineData("equals=inside")]
    [InlineData("all of , = them")]
    [InlineData("ünïcødé 跑鞋 👟")]
    [InlineData("quote\"and'apostrophe")]
    public async Task TagsAndFields_RoundTripExactly(string tag)
    {
        var lines = new LineProtocol();
        lines.Measurement("round trip").Tag("model", tag).Tag("tag key, =", "v")
            .Field("float", 0.1).Field("whole_float", 81.0).Field("tiny", 1e-5).Field("count", 4310L)
            .Field("text", $"say \"{tag}\" \\ done").End(1795428000123);

        var response = await Client().WriteAsync(lines.Written, CancellationToken.None);

        Assert.Equal(WriteOutcome.Written, response.Outcome);
        var escapedTag = tag.Replace("'", "\\'", StringComparison.Ordinal);
        var rows = await _influx.QueryAsync(Database,
            $"SELECT \"float\", whole_float, tiny, \"count\", \"text\" FROM \"round trip\" WHERE model = '{escapedTag}'");
        var row = Assert.Single(rows);
        Assert.Equal(1795428000123, row[0].GetInt64());
        Assert.Equal(0.1, row[1].GetDouble());
        Assert.Equal(81.0, row[2].GetDouble());
        Assert.Equal(1e-5, row[3].GetDouble());
        Assert.Equal(4310, row[4].GetInt64());
        Assert.Equal($"say \"{tag}\" \\ done", row[5].GetString());

        // The field types are what the catalogue says: integers stay integers, floats floats.
        var types = await _influx.QueryAsync(Database, "SHOW FIELD KEYS FROM \"round trip\"");
        Assert.Contains(types, t => t[0].GetString() == "count" && t[1].GetString() == "integer");
        Assert.Contains(types, t => t[0].GetString() == "whole_float" && t[1].GetString() == "float");
    }

    [Fact]
    public async Task BadLineInABatch_IsDeadLetteredAndTheRestStored()
    {
        // A field that changes type is refused by InfluxDB with 400 ("partial write: field type conflict").
        await Client().WriteAsync(Encoding.UTF8.GetBytes("m,device=d seq=1i 1000\n"), CancellationToken.None);
        var batch = new StringBuilder();
        for (var i = 2; i <= 9; i++)
        {
            batch.Append(i == 5 ? $"m,device=d seq=5.5 {i * 1000}\n" : $"m,device=d seq={i}i {i * 1000}\n");
        }

        await using var store = Store();
        Assert.True(await store.StoreAsync(Encoding.UTF8.GetBytes(batch.ToString()), 8, CancellationToken.None));

        Assert.Equal(8, await _influx.CountAsync(Database, "SELECT count(seq) FROM m"));
        Assert.Equal(1, _counters.DeadLettered);
        Assert.True(_counters.Splits >= 1);
        var deadLetter = File.ReadAllText(Directory.GetFiles(Path.Combine(_data, "deadletter")).Single());
        Assert.Contains("m,device=d seq=5.5 5000", deadLetter, StringComparison.Ordinal);
        Assert.Contains("field type conflict", deadLetter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestOverTheServersBodyLimit_IsSplitAndAllStored()
    {
        // The server here accepts at most 4000 bytes per request (max-body-size): 413 above that.
        // Random padding, so that gzip cannot shrink the body under the limit.
        var random = new Random(7);
        var batch = new StringBuilder();
        for (var i = 0; i < 200; i++)
        {
            var pad = Convert.ToHexString(BitConverter.GetBytes(random.NextInt64())) + Convert.ToHexString(BitConverter.GetBytes(random.NextInt64()));
            batch.Append(System.Globalization.CultureInfo.InvariantCulture, $"big,device=d{i % 7} seq={i}i,pad=\"{pad}\" {1_000_000 + i}\n");
        }

        await using var store = Store();
        Assert.True(await store.StoreAsync(Encoding.UTF8.GetBytes(batch.ToString()), 200, CancellationToken.None));

        Assert.Equal(200, await _influx.CountAsync(Database, "SELECT count(seq) FROM big"));
        Assert.True(_counters.Splits >= 1, "the request should have been split after a 413");
        Assert.Equal(0, _counters.DeadLettered);
    }

    [Fact]
    public async Task InfluxDownForTenSeconds_LosesNothingAndDuplicatesNothing()
    {
        await using var store = Store();
        var written = 0;
        var spilledDuringOutage = false;

        async Task WriteBatchAsync()
        {
            var batch = new StringBuilder();
            for (var i = 0; i < 50; i++, written++)
            {
                batch.Append(System.Globalization.CultureInfo.InvariantCulture, $"outage,device=d{written % 5} seq={written}i {2_000_000 + written}\n");
            }

            Assert.True(await store.StoreAsync(Encoding.UTF8.GetBytes(batch.ToString()), 50, CancellationToken.None), "a write was not made durable");
        }

        for (var i = 0; i < 20; i++)
        {
            await WriteBatchAsync();
        }

        await _influx.StopAsync();
        var outageEnds = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < outageEnds)
        {
            // Every write is acknowledged during the outage: it is in the spill file.
            await WriteBatchAsync();
            spilledDuringOutage |= store.Inner.Spilling;
            await Task.Delay(20);
        }

        await _influx.StartAsync();
        for (var i = 0; i < 20; i++)
        {
            await WriteBatchAsync();
        }

        await StartedStore.WaitUntilAsync(() => !store.Inner.Spilling, "the spill file was not replayed");
        Assert.True(spilledDuringOutage);
        Assert.True(_counters.Spilled > 0 && _counters.Replayed == _counters.Spilled, $"spilled {_counters.Spilled}, replayed {_counters.Replayed}");
        Assert.Equal(written, await _influx.CountAsync(Database, "SELECT count(seq) FROM outage"));
        Assert.Equal(written, (await _influx.QueryAsync(Database, "SELECT count(distinct(seq)) FROM outage"))[0][1].GetInt64());
        Assert.False(File.Exists(Path.Combine(_data, "influx-spill.lp")), "the spill file should be removed once replayed");
    }

    private InfluxClient Client() => new(new HttpClient(), Options(), TimeProvider.System);

    private InfluxOptions Options() => new() { Url = _influx.Url.ToString(), Database = Database, RetryDelay = TimeSpan.FromMilliseconds(50) };

    private StartedStore Store() => new(new InfluxStore(new HttpClient(), Microsoft.Extensions.Options.Options.Create(Options()),
        Microsoft.Extensions.Options.Options.Create(new StorageOptions { DataDirectory = _data }), _counters, new ComponentHealth(TimeProvider.System),
        TimeProvider.System, NullLogger<InfluxStore>.Instance));

    /// <summary>An <see cref="InfluxStore"/> running its writer loop for the length of a test.</summary>
    private sealed class StartedStore : IAsyncDisposable
    {
        private readonly InfluxStore _store;
        private readonly Task _started;

        public StartedStore(InfluxStore store)
        {
            _store = store;
            _started = store.StartAsync(CancellationToken.None);
        }

        public InfluxStore Inner => _store;

        public static async Task WaitUntilAsync(Func<bool> condition, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, what);
                await Task.Delay(50);
            }
        }

        public async ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int count, CancellationToken cancellationToken)
        {
            await _started;
            return await _store.StoreAsync(lines, count, cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await _store.StopAsync(CancellationToken.None);
            _store.Dispose();
        }
    }
}
