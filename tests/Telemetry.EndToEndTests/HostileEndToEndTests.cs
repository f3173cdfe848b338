using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using Telemetry.Tests.Hostile;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>The service with rate limits out of the way, so a device can send the whole hostile corpus at once,
/// and with a known password for its own account, to publish on topics no device may use.</summary>
public sealed class HostileServiceFixture : ServiceFixture
{
    public const string ServicePassword = "e2e-service-password";

    public HostileServiceFixture()
        : base([
            "--Uplink:RateLimitPerSecond", "1000000",
            "--Uplink:RateLimitBurst", "1000000",
            "--Uplink:BirthRateLimitBurst", "1000000",
            "--Broker:Password", ServicePassword,
        ])
    {
    }
}

/// <summary>
/// The hostile corpus (tests/Shared/HostileCorpus.cs, 2000+ payloads in 15 classes) through the running service:
/// every payload is answered on <c>devices/{id}/errors</c> with its documented reason, every valid reading next to
/// the hostile ones is stored, the counters say the same, and the service keeps running.
/// </summary>
public sealed class HostileEndToEndTests(HostileServiceFixture service) : IClassFixture<HostileServiceFixture>
{
    [Fact]
    public async Task HostileCorpus_IsRejectedWithDocumentedReasons_AndEveryValidReadingIsStored()
    {
        var corpus = HostileCorpus.Generate(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var expectedTotals = new Dictionary<string, long>(StringComparer.Ordinal);
        // Counted from here: the class's other tests share the service.
        var before = await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "the stats before");
        foreach (var group in corpus.GroupBy(c => c.Class))
        {
            var id = $"hostile-{group.Key}";
            await using var device = await service.DeviceAsync(id, $"devices/{id}/errors", $"devices/{id}/ack");
            foreach (var hostile in group)
            {
                var topic = hostile.Topic == HostileTopic.Birth ? $"devices/{id}/birth" : $"devices/{id}/telemetry";
                // Births are retained, as devices send them, except those over 64 KiB: the broker refuses to keep
                // those (AttackerEndToEndTests), and unretained they reach the service, which must answer them.
                var retain = hostile.Topic == HostileTopic.Birth && hostile.Payload.Length <= 64 * 1024;
                var published = await device.PublishAsync(topic, hostile.Payload, retain);
                Assert.True(published.IsSuccess, $"{hostile}: the broker refused it ({published.ReasonCode})");
            }

            // A device's messages are handled in order: once this one is acked, the corpus has been handled.
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await device.PublishAsync($"devices/{id}/telemetry", Encoding.UTF8.GetBytes($$$"""{"v":1,"boot":"sentinel","seq":0,"readings":[{"ts":{{{now}}},"m":{"steps":1}}]}"""));

            var expected = group.SelectMany(c => c.MessageReason is { } reason ? [reason] : c.Rejections.Select(r => r.Reason)).ToList();
            var errors = new List<string>();
            var sentinelAcked = false;
            while (errors.Count < expected.Count || !sentinelAcked)
            {
                var (received, payload) = await device.ReceiveAsync($"{id}: error {errors.Count + 1} of {expected.Count}, or the sentinel's ack");
                if (received.EndsWith("/ack", StringComparison.Ordinal))
                {
                    sentinelAcked |= payload.GetProperty("boot").GetString() == "sentinel";
                }
                else
                {
                    errors.Add(payload.GetProperty("reason").GetString()!);
                }
            }

            Assert.Equal(Tally(expected), Tally(errors));
            var accepted = group.Sum(c => c.AcceptedReadings) + 1;
            Assert.Equal(accepted, StoredLines(id));
            var twin = await service.WaitForJsonAsync($"/api/devices/{id}", _ => true, "the twin");
            Assert.Equal(accepted, twin.GetProperty("totals").GetProperty("readings").GetInt64());
            foreach (var reason in expected)
            {
                expectedTotals[reason] = expectedTotals.GetValueOrDefault(reason) + 1;
            }
        }

        var stats = await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "stats");
        var rejections = stats.GetProperty("rejections").EnumerateObject()
            .Select(p => (p.Name, Count: p.Value.GetInt64() - before.GetProperty("rejections").GetProperty(p.Name).GetInt64())).Where(p => p.Count > 0)
            .ToDictionary(p => p.Name, p => p.Count, StringComparer.Ordinal);
        // A reconnect of the subscriber in between can deliver the retained hostile births again (rejected again): a
        // failure says whether there was one.
        var (expectedText, actualText) = (Text(expectedTotals), Text(rejections));
        Assert.True(expectedText == actualText,
            $"rejections {actualText}, expected {expectedText}; the subscriber's stalls and unanswered checks went {Reconnects(before)} → {Reconnects(stats)}");
        using var health = await service.Http.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private static string Text(Dictionary<string, long> counts) =>
        string.Join(", ", counts.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));

    private static long Reconnects(JsonElement stats) =>
        stats.GetProperty("subscriber").GetProperty("stalls").GetInt64() + stats.GetProperty("subscriber").GetProperty("unanswered").GetInt64();

    [Fact]
    public async Task TopicTricks_FromADevice_AreRefusedByTheBroker_AndNothingIsStored()
    {
        const string id = "hostile-topics";
        await using var device = await service.DeviceAsync(id, $"devices/{id}/ack");
        var payload = TestDevice.Vector("valid/telemetry-shoe-run.json");
        foreach (var topic in HostileCorpus.TopicTricks(id).Where(t => !t.Contains('+', StringComparison.Ordinal) && !t.Contains('#', StringComparison.Ordinal)))
        {
            var result = await device.PublishAsync(topic, payload);
            Assert.True(result.ReasonCode == MqttClientPublishReasonCode.NotAuthorized, $"{topic}: {result.ReasonCode}");
        }

        // Wildcards are not even valid in a PUBLISH: the broker drops the connection, whatever the client.
        foreach (var topic in HostileCorpus.TopicTricks(id).Where(t => t.Contains('+', StringComparison.Ordinal) || t.Contains('#', StringComparison.Ordinal)))
        {
            Assert.False(await RawPublishIsAcceptedAsync(id, topic), topic);
        }

        await device.PublishAsync($"devices/{id}/telemetry", payload);
        await device.ReceiveAsync($"devices/{id}/ack", _ => true, "ack of its own message");
        Assert.Equal(1, StoredLines(id));
    }

    [Fact]
    public async Task TopicTricks_ThatReachTheSubscriber_AreCountedAndIgnored()
    {
        // Only the service's own account may publish anywhere; even so, the service takes only valid device ids.
        // (MQTTnet's '+' does not match an empty level, so devices//telemetry never reaches the subscriber.)
        var reachable = HostileCorpus.TopicTricks("shoe-1")
            .Where(t => t.Split('/') is ["devices", { Length: > 0 }, "telemetry" or "birth"] && !t.Contains('+', StringComparison.Ordinal) && !t.Contains('#', StringComparison.Ordinal))
            .ToList();
        var before = (await service.WaitForJsonAsync("/api/ingest/stats", _ => true, "stats")).GetProperty("invalid_topics").GetInt64();
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", service.MqttPort)
            .WithClientId("telemetry-hostile").WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCredentials("telemetry-service", HostileServiceFixture.ServicePassword).Build());
        foreach (var topic in reachable)
        {
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(TestDevice.Vector("valid/telemetry-shoe-run.json"))
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        Assert.True(reachable.Count >= 8, $"only {reachable.Count} topics reach the subscriber");
        await service.WaitForJsonAsync("/api/ingest/stats", s => s.GetProperty("invalid_topics").GetInt64() == before + reachable.Count,
            $"{reachable.Count} invalid topics counted");
        Assert.DoesNotContain(AllStoredLines(), l => reachable.Any(t => l.Contains($"device={t.Split('/')[1]}", StringComparison.Ordinal)));
    }

    /// <summary>Connects as <paramref name="device"/> over a raw socket (MQTT 3.1.1) and sends one QoS 1 PUBLISH to
    /// <paramref name="topic"/>; true only if the broker answers with a PUBACK.</summary>
    private async Task<bool> RawPublishIsAcceptedAsync(string device, string topic)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, service.MqttPort);
        var stream = tcp.GetStream();
        var user = Encoding.UTF8.GetBytes(device);
        var password = Encoding.UTF8.GetBytes(Ingest.Broker.DeviceCredentials.Token(device, ServiceFixture.DeviceSecret));
        byte[] connect = [0, 4, .. "MQTT"u8, 4, 0xC2, 0, 60, 0, (byte)(device.Length + 4), .. Encoding.UTF8.GetBytes(device + ".raw"),
            0, (byte)user.Length, .. user, 0, (byte)password.Length, .. password];
        await stream.WriteAsync((byte[])[0x10, (byte)connect.Length, .. connect]);
        var connack = new byte[4];
        Assert.Equal(4, await stream.ReadAtLeastAsync(connack, 4, throwOnEndOfStream: false));
        Assert.Equal(0, connack[3]);

        var topicBytes = Encoding.UTF8.GetBytes(topic);
        byte[] publish = [0, (byte)topicBytes.Length, .. topicBytes, 0, 1, .. "{}"u8];
        await stream.WriteAsync((byte[])[0x32, (byte)publish.Length, .. publish]);
        var answer = new byte[4];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var read = await stream.ReadAtLeastAsync(answer, 4, throwOnEndOfStream: false, timeout.Token);
            return read == 4 && answer[0] == 0x40;
        }
        catch (IOException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            // Neither an answer nor a disconnect: the broker at least did not accept it.
            return false;
        }
    }

    private IEnumerable<string> AllStoredLines() => Directory.Exists(Path.Combine(service.DataDirectory, "lines"))
        ? Directory.GetFiles(Path.Combine(service.DataDirectory, "lines")).SelectMany(File.ReadLines)
        : [];

    private int StoredLines(string device) => AllStoredLines()
        .Count(l => !l.StartsWith("maintenance_alert", StringComparison.Ordinal)
            && (l.Contains($",device={device} ", StringComparison.Ordinal) || l.Contains($",device={device},", StringComparison.Ordinal)));

    private static List<KeyValuePair<string, int>> Tally(IEnumerable<string> reasons) =>
        [.. reasons.GroupBy(r => r, StringComparer.Ordinal).Select(g => KeyValuePair.Create(g.Key, g.Count())).OrderBy(p => p.Key, StringComparer.Ordinal)];
}
