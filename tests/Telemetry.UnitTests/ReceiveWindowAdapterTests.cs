using System.Buffers;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Mqtt;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The subscriber's window in bytes (<see cref="ReceiveWindowAdapter"/>): reading stops once the payload bytes read and
/// not yet acknowledged pass Broker:ReceiveWindowBytes, and starts again when a PUBACK brings them under. The wire is a
/// channel of packets here; the adapter over a real Mosquitto is in the integration tests.
/// </summary>
public sealed class ReceiveWindowAdapterTests
{
    private static readonly CancellationToken Cancel = CancellationToken.None;

    [Fact]
    public async Task PastTheBytes_ReadingWaitsForAnAcknowledgement_AndTheCountSaysSo()
    {
        var wire = new FakeWire();
        int full = 0, exceeded = 0;
        using var adapter = new ReceiveWindowAdapter(wire, window: 1000, windowBytes: 10_000, exceeded: () => exceeded++, bytesFull: () => full++);
        for (ushort id = 1; id <= 4; id++)
        {
            wire.Deliver(Publish(id, 3_000));
        }

        // 3,000, 6,000, 9,000 bytes: under the limit. The fourth crosses it and is still read (that is how it shows).
        for (var i = 0; i < 4; i++)
        {
            await adapter.ReceivePacketAsync(Cancel);
        }

        Assert.Equal(12_000, adapter.UnacknowledgedBytes);
        wire.Deliver(Publish(5, 3_000));
        var fifth = adapter.ReceivePacketAsync(Cancel);
        // The gate is checked before the read, synchronously: a closed gate leaves the packet on the wire.
        Assert.False(fifth.IsCompleted, "the fifth delivery was read past the window in bytes");
        Assert.Equal(1, wire.Pending);
        // Said, so that the connection check does not take an unanswered ping for a dead broker (a PINGRESP waits too).
        Assert.True(adapter.Holding);
        // Counted as this side's own flow control, not as a broker past its window.
        Assert.Equal((1, 0), (full, exceeded));

        // One PUBACK takes it to 9,000: reading resumes.
        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 2 }, Cancel);
        var packet = Assert.IsType<MqttPublishPacket>(await fifth.WaitAsync(TimeSpan.FromSeconds(10), Cancel));
        Assert.Equal(5, packet.PacketIdentifier);
        Assert.False(adapter.Holding);
        Assert.Equal(12_000, adapter.UnacknowledgedBytes);
        Assert.Equal(4, adapter.Unacknowledged);
    }

    [Fact]
    public async Task AnAcknowledgementThatDoesNotBringItUnder_LeavesReadingStopped()
    {
        var wire = new FakeWire();
        using var adapter = new ReceiveWindowAdapter(wire, window: 1000, windowBytes: 10_000);
        wire.Deliver(Publish(1, 500));
        wire.Deliver(Publish(2, 20_000));
        wire.Deliver(Publish(3, 100));
        await adapter.ReceivePacketAsync(Cancel);
        await adapter.ReceivePacketAsync(Cancel);

        var third = adapter.ReceivePacketAsync(Cancel);
        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 1 }, Cancel);
        Assert.Equal(20_000, adapter.UnacknowledgedBytes);
        await Task.Yield();
        Assert.False(third.IsCompleted, "reading resumed while 20,000 bytes were still unacknowledged");

        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 2 }, Cancel);
        await third.WaitAsync(TimeSpan.FromSeconds(10), Cancel);
        Assert.Equal(100, adapter.UnacknowledgedBytes);
    }

    [Fact]
    public async Task APacketIdentifierDeliveredTwiceBeforeItsAcknowledgement_IsCountedOnce()
    {
        // A broker that reuses an identifier still in flight breaks the protocol; the bytes must not leak, or the gate
        // would close for good on a connection that lives for days.
        var wire = new FakeWire();
        using var adapter = new ReceiveWindowAdapter(wire, window: 1000, windowBytes: 10_000);
        wire.Deliver(Publish(7, 4_000));
        wire.Deliver(Publish(7, 4_000));
        await adapter.ReceivePacketAsync(Cancel);
        await adapter.ReceivePacketAsync(Cancel);
        Assert.Equal(4_000, adapter.UnacknowledgedBytes);

        Assert.Equal(1, adapter.Unacknowledged);

        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 7 }, Cancel);
        Assert.Equal((0, 0L), (adapter.Unacknowledged, adapter.UnacknowledgedBytes));
    }

    [Fact]
    public async Task AnAcknowledgementOfAnIdentifierNotOutstanding_FreesNothing()
    {
        // A delivery of an earlier connection acknowledged late, on this one: it must not open the gate for others.
        var wire = new FakeWire();
        using var adapter = new ReceiveWindowAdapter(wire, window: 1000, windowBytes: 10_000);
        wire.Deliver(Publish(1, 12_000));
        await adapter.ReceivePacketAsync(Cancel);

        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 2 }, Cancel);
        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 2 }, Cancel);

        Assert.Equal((1, 12_000L), (adapter.Unacknowledged, adapter.UnacknowledgedBytes));
    }

    [Fact]
    public async Task ADeliveryThatReusesAnIdentifierWhileItsAcknowledgementIsBeingWritten_StaysCounted()
    {
        // The broker may reuse an identifier as soon as it reads the PUBACK, before the write returns here: the new
        // delivery is the one outstanding afterwards, not nothing.
        var wire = new FakeWire();
        using var adapter = new ReceiveWindowAdapter(wire, window: 1000, windowBytes: 10_000);
        wire.Deliver(Publish(9, 1_000));
        await adapter.ReceivePacketAsync(Cancel);
        wire.Deliver(Publish(9, 6_000));
        wire.DuringSend = async () => await adapter.ReceivePacketAsync(Cancel);

        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = 9 }, Cancel);

        Assert.Equal((1, 6_000L), (adapter.Unacknowledged, adapter.UnacknowledgedBytes));
    }

    [Fact]
    public async Task QosZeroAndOtherPackets_CostNothing()
    {
        var wire = new FakeWire();
        using var adapter = new ReceiveWindowAdapter(wire, window: 1, windowBytes: 65_536);
        wire.Deliver(new MqttPublishPacket { Topic = "t", QualityOfServiceLevel = MqttQualityOfServiceLevel.AtMostOnce, Payload = new ReadOnlySequence<byte>(new byte[100_000]) });
        wire.Deliver(new MqttPingRespPacket());
        await adapter.ReceivePacketAsync(Cancel);
        await adapter.ReceivePacketAsync(Cancel);
        Assert.Equal(0, adapter.UnacknowledgedBytes);
        Assert.Equal(0, adapter.Unacknowledged);
    }

    [Fact]
    public async Task ManyReadersAndAckers_NeverLoseAWakeUp()
    {
        // A reader that stops just as the last acknowledgement brings the bytes under must still be woken: 20,000
        // deliveries through a window of about three, acknowledged from another thread as they arrive.
        const int Deliveries = 20_000;
        var wire = new FakeWire();
        using var adapter = new ReceiveWindowAdapter(wire, window: 65_535, windowBytes: 2_500);
        for (var i = 0; i < Deliveries; i++)
        {
            wire.Deliver(Publish((ushort)(i % 60_000 + 1), 1_000));
        }

        // Acknowledged from several threads at once, as the partitions do.
        var received = Channel.CreateUnbounded<ushort>();
        var acking = Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            await foreach (var id in received.Reader.ReadAllAsync(Cancel))
            {
                await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = id }, Cancel);
            }
        }, Cancel)));
        for (var i = 0; i < Deliveries; i++)
        {
            var packet = (MqttPublishPacket)await adapter.ReceivePacketAsync(Cancel).WaitAsync(TimeSpan.FromSeconds(10), Cancel);
            Assert.True(adapter.UnacknowledgedBytes <= 3_500, $"{adapter.UnacknowledgedBytes} bytes unacknowledged");
            received.Writer.TryWrite(packet.PacketIdentifier);
        }

        received.Writer.Complete();
        await acking;
        Assert.Equal(0, adapter.UnacknowledgedBytes);
    }

    [Theory]
    [InlineData(1024L)]
    [InlineData(2L * 1024 * 1024 * 1024)]
    public void AWindowInBytesOutOfRange_FailsNamingTheKey(long bytes)
    {
        var result = new BrokerOptionsValidator().Validate(null, new BrokerOptions { ReceiveWindowBytes = bytes });

        Assert.True(result.Failed);
        Assert.Contains("Broker:ReceiveWindowBytes", result.FailureMessage);
    }

    private static MqttPublishPacket Publish(ushort id, int bytes) => new()
    {
        PacketIdentifier = id,
        Topic = "devices/d/telemetry",
        QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
        Payload = new ReadOnlySequence<byte>(new byte[bytes]),
    };

    /// <summary>Packets the broker "sent", read in order.</summary>
    private sealed class FakeWire : IMqttChannelAdapter
    {
        private readonly Channel<MqttPacket> _packets = Channel.CreateUnbounded<MqttPacket>();

        /// <summary>Sent and not yet read.</summary>
        public int Pending => _packets.Reader.Count;

        /// <summary>Runs while a packet is being written, as a broker that answers at once would make happen.</summary>
        public Func<Task>? DuringSend { get; set; }

        public void Deliver(MqttPacket packet) => _packets.Writer.TryWrite(packet);

        public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken) => await _packets.Reader.ReadAsync(cancellationToken);

        public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => DuringSend?.Invoke() ?? Task.CompletedTask;

        public long BytesReceived => 0;

        public long BytesSent => 0;

        public X509Certificate2? ClientCertificate => null;

        public System.Net.EndPoint? RemoteEndPoint => null;

        public System.Net.EndPoint? LocalEndPoint => null;

        public bool IsSecureConnection => false;

        public MqttPacketFormatterAdapter PacketFormatterAdapter => null!;

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DisconnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void ResetStatistics()
        {
        }

        public void Dispose()
        {
        }
    }
}
