using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>The embedded broker with the packet-size guard in front (on by default off loopback).</summary>
public sealed class GuardedServiceFixture : ServiceFixture
{
    public GuardedServiceFixture()
        : base(["--Broker:Guard", "true"])
    {
    }
}

/// <summary>
/// Alone, because <see cref="GC.GetTotalAllocatedBytes"/> counts the whole process: another test's service allocating
/// at the same time would count against the guard.
/// </summary>
[CollectionDefinition(nameof(AllocationsMeasured), DisableParallelization = true)]
public sealed class AllocationsMeasured;

[Collection(nameof(AllocationsMeasured))]
public sealed class GuardEndToEndTests(GuardedServiceFixture service) : IClassFixture<GuardedServiceFixture>
{
    [Fact]
    public async Task DevicesWorkThroughTheGuard()
    {
        const string id = "shoe-guard-1";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        await device.PublishAsync($"devices/{id}/telemetry", TestDevice.Vector("valid/telemetry-shoe-run.json"));

        await device.ReceiveAsync($"devices/{id}/ack", a => a.GetProperty("seq").GetUInt32() == 0, "ack through the guard");
    }

    [Fact]
    public async Task FiveBytesAnnouncingA256MiBConnect_AreRefusedWithoutTheAllocation()
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, service.MqttPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(new byte[] { 0x10, 0xFF, 0xFF, 0xFF, 0x7F });

        var read = await stream.ReadAsync(new byte[16]);

        Assert.Equal(0, read); // closed by the guard
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 64L << 20, $"{allocated >> 20} MiB allocated while refusing the packet");
    }

    [Fact]
    public async Task OversizedPublishAfterConnecting_ClosesTheConnection()
    {
        const string id = "shoe-guard-2";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");

        // 200 KiB, over Broker:MaxPacketSize (128 KiB): the guard drops the connection instead of passing it on.
        await Assert.ThrowsAnyAsync<Exception>(() => device.PublishAsync($"devices/{id}/telemetry", new byte[200 * 1024]));
    }
}
