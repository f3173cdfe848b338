using Microsoft.Extensions.Time.Testing;
using Telemetry.Ingest.Mqtt;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>When the subscriber judges that the broker has stopped delivering (Broker:StallAfter).</summary>
public sealed class DeliveryWatchTests
{
    private const int Window = 1024;
    private static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Check = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(20_000));

    [Fact]
    public void NoProbeOnItsWay_IsNeverAStall()
    {
        var watch = new DeliveryWatch(StallAfter, Window, _time);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.False(watch.IsStalled(busy: false, received: 0));
    }

    [Fact]
    public void ProbeNotBack_AfterStallAfterOfIdleChecks_IsAStall_Once()
    {
        var watch = new DeliveryWatch(StallAfter, Window, _time);
        watch.Send(received: 0);

        _time.Advance(Check);
        Assert.False(watch.IsStalled(false, 0));
        _time.Advance(StallAfter - Check - TimeSpan.FromMilliseconds(1));
        Assert.False(watch.IsStalled(false, 0));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(watch.IsStalled(false, 0));

        // The probe is forgotten: a reconnect follows, and a new probe starts the next judgement.
        Assert.False(watch.Waiting);
        Assert.False(watch.IsStalled(false, 0));
    }

    [Fact]
    public void ACrawl_LessThanAWindowInStallAfter_IsAStall()
    {
        // The 8 KiB-socket crawl: about ten messages a second still arrive, the pipeline idle at every check.
        var watch = new DeliveryWatch(StallAfter, Window, _time);
        watch.Send(received: 1000);
        for (var i = 1; i <= 3; i++)
        {
            _time.Advance(Check);
            Assert.Equal(i == 3, watch.IsStalled(false, 1000 + (i * 50)));
        }
    }

    [Fact]
    public void AWindowDelivered_OrABusyCheck_StartsTheStallClockAgain()
    {
        // A backlog draining (a window turned over since the last check), or the pipeline being the bottleneck:
        // the probe is waiting its turn behind the backlog.
        var watch = new DeliveryWatch(StallAfter, Window, _time);
        watch.Send(received: 0);
        _time.Advance(Check);
        Assert.False(watch.IsStalled(false, Window));
        _time.Advance(StallAfter - TimeSpan.FromMilliseconds(1));
        Assert.False(watch.IsStalled(true, Window + 10));
        _time.Advance(StallAfter - TimeSpan.FromMilliseconds(1));
        Assert.False(watch.IsStalled(false, Window + 20));

        // Busy no more, and a trickle only: a stall, StallAfter after the last sign of progress.
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(watch.IsStalled(false, Window + 30));
    }

    [Fact]
    public void ConsecutiveStalls_WaitLonger_UntilAProbeComesBack()
    {
        var watch = new DeliveryWatch(StallAfter, Window, _time);
        watch.Send(0);
        _time.Advance(StallAfter);
        Assert.True(watch.IsStalled(false, 0));
        Assert.Equal(StallAfter * 2, watch.StallAfter);

        watch.Send(0);
        _time.Advance(StallAfter);
        Assert.False(watch.IsStalled(false, 0));
        _time.Advance(StallAfter);
        Assert.True(watch.IsStalled(false, 0));
        Assert.Equal(StallAfter * 4, watch.StallAfter);

        var payload = watch.Send(0);
        Assert.True(watch.Returned(payload));
        Assert.Equal(StallAfter, watch.StallAfter);
    }

    [Fact]
    public void TheProbeComingBack_EndsTheWait_OldAndForeignProbesDoNot()
    {
        var watch = new DeliveryWatch(StallAfter, Window, _time);
        var first = watch.Send(0);
        watch.Reset();
        var second = watch.Send(0);

        Assert.False(watch.Returned(first));
        Assert.False(watch.Returned("another-instance:2"));
        Assert.True(watch.Waiting);
        Assert.True(watch.Returned(second));
        Assert.False(watch.Waiting);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(watch.IsStalled(false, 0));
        Assert.False(watch.Returned(second));
    }
}

/// <summary>Broker:ProbeInterval and Broker:StallAfter are checked at start.</summary>
public sealed class DeliveryWatchOptionsTests
{
    [Theory]
    [InlineData("-00:00:01", "00:00:15", "Broker:ProbeInterval")]
    [InlineData("00:00:05", "00:00:01", "Broker:StallAfter")]
    [InlineData("02:00:00", "03:00:00", "Broker:ProbeInterval")]
    [InlineData("00:00:05", "02:00:00", "Broker:StallAfter")]
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

    [Fact]
    public void ServiceClients_WaitForAnswers_ForBrokerResponseTimeout()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new Telemetry.Ingest.Broker.BrokerOptions { Password = "p", ResponseTimeout = TimeSpan.FromSeconds(3) });
        var secrets = new Telemetry.Ingest.Broker.BrokerSecrets(options, Microsoft.Extensions.Options.Options.Create(new Telemetry.Ingest.Storage.StorageOptions()));

        Assert.Equal(TimeSpan.FromSeconds(3), new Telemetry.Ingest.Mqtt.MqttClientOptionsFactory(options, secrets).Create("outbox", persistentSession: false).Timeout);
    }

    [Theory]
    [InlineData("00:00:00.050")]
    [InlineData("00:05:01")]
    public void ResponseTimeout_OutOfRange_IsRefusedByName(string timeout)
    {
        var result = new Telemetry.Ingest.Broker.BrokerOptionsValidator().Validate(null, new Telemetry.Ingest.Broker.BrokerOptions
        {
            ResponseTimeout = TimeSpan.Parse(timeout, System.Globalization.CultureInfo.InvariantCulture),
        });

        Assert.True(result.Failed);
        Assert.Contains("Broker:ResponseTimeout", result.FailureMessage, StringComparison.Ordinal);
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
