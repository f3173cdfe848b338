using Microsoft.Extensions.Time.Testing;
using Telemetry.Ingest.Mqtt;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>When the subscriber judges that the broker has stopped delivering (Broker:StallAfter).</summary>
public sealed class DeliveryWatchTests
{
    private static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(15);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(20_000));

    [Fact]
    public void NoProbeOnItsWay_IsNeverAStall()
    {
        var watch = new DeliveryWatch(StallAfter, _time);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.False(watch.IsStalled(queued: 0, held: 0));
    }

    [Fact]
    public void ProbeOnItsWayForStallAfter_WithThePipelineIdleAtEveryCheck_IsAStall()
    {
        var watch = new DeliveryWatch(StallAfter, _time);
        watch.Send();

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(watch.IsStalled(0, 0));
        _time.Advance(StallAfter - TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(1));
        Assert.False(watch.IsStalled(0, 0));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(watch.IsStalled(0, 0));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(0, 1)]
    public void APipelineBusyAtAnyCheck_MakesTheProbeJustWaitItsTurn(int queued, int held)
    {
        // A backlog draining as fast as the pipeline goes (messages queued), or a store failing (messages held):
        // the broker is rightly waiting for acknowledgements, and the probe waits behind the backlog.
        var watch = new DeliveryWatch(StallAfter, _time);
        watch.Send();
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(watch.IsStalled(queued, held));

        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(watch.IsStalled(0, 0));

        // The next probe is judged on its own checks.
        watch.Reset();
        watch.Send();
        _time.Advance(StallAfter);
        Assert.True(watch.IsStalled(0, 0));
    }

    [Fact]
    public void TheProbeComingBack_EndsTheWait_OldAndForeignProbesDoNot()
    {
        var watch = new DeliveryWatch(StallAfter, _time);
        var first = watch.Send();
        watch.Reset();
        var second = watch.Send();

        Assert.False(watch.Returned(first));
        Assert.False(watch.Returned("another-instance:2"));
        Assert.True(watch.Waiting);
        Assert.True(watch.Returned(second));
        Assert.False(watch.Waiting);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(watch.IsStalled(0, 0));
        Assert.False(watch.Returned(second));
    }
}

/// <summary>Broker:ProbeInterval and Broker:StallAfter are checked at start.</summary>
public sealed class DeliveryWatchOptionsTests
{
    [Theory]
    [InlineData("-00:00:01", "00:00:15", "Broker:ProbeInterval")]
    [InlineData("00:00:05", "00:00:01", "Broker:StallAfter")]
    public void Invalid_IsRefusedByName(string probeInterval, string stallAfter, string named)
    {
        var result = new Telemetry.Ingest.Broker.BrokerOptionsValidator().Validate(null, new Telemetry.Ingest.Broker.BrokerOptions
        {
            ProbeInterval = TimeSpan.Parse(probeInterval, System.Globalization.CultureInfo.InvariantCulture),
            StallAfter = TimeSpan.Parse(stallAfter, System.Globalization.CultureInfo.InvariantCulture),
        });

        Assert.True(result.Failed);
        Assert.Contains(named, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Off_NeedsNoStallAfter()
    {
        var result = new Telemetry.Ingest.Broker.BrokerOptionsValidator().Validate(null, new Telemetry.Ingest.Broker.BrokerOptions
        {
            ProbeInterval = TimeSpan.Zero,
            StallAfter = TimeSpan.Zero,
        });

        Assert.True(result.Succeeded);
    }
}

/// <summary>The service's MQTT sockets get Broker:SocketBufferBytes, not MQTTnet's 8 KiB.</summary>
public sealed class SocketBufferTests
{
    [Fact]
    public void ServiceClients_UseTheConfiguredSocketBuffer()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new Telemetry.Ingest.Broker.BrokerOptions { Password = "p" });
        var secrets = new Telemetry.Ingest.Broker.BrokerSecrets(options, Microsoft.Extensions.Options.Options.Create(new Telemetry.Ingest.Storage.StorageOptions()));

        var created = new Telemetry.Ingest.Mqtt.MqttClientOptionsFactory(options, secrets).Create("ingest", persistentSession: true);

        var tcp = Assert.IsType<MQTTnet.MqttClientTcpOptions>(created.ChannelOptions);
        Assert.Equal(1024 * 1024, tcp.BufferSize);
    }

    [Theory]
    [InlineData(8192)]
    [InlineData(128 * 1024 * 1024)]
    public void OutOfRange_IsRefusedByName(int bytes)
    {
        var result = new Telemetry.Ingest.Broker.BrokerOptionsValidator().Validate(null, new Telemetry.Ingest.Broker.BrokerOptions { SocketBufferBytes = bytes });

        Assert.True(result.Failed);
        Assert.Contains("Broker:SocketBufferBytes", result.FailureMessage, StringComparison.Ordinal);
    }
}
