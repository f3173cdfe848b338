using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Telemetry.Ingest.Broker;

namespace Telemetry.IntegrationTests;

/// <summary>
/// A device as the uplink contract asks firmware to behave: it numbers its messages, keeps each until the
/// service's application ack covers it, and resends what is still unacked after a timeout (reconnecting
/// when needed). Readings have unique timestamps, so the expected stored count is exact.
/// </summary>
public sealed class Firmware : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly ConcurrentDictionary<uint, byte[]> _unacked = new();
    private readonly int _port;
    private readonly string _secret;
    private long _ackedThrough = -1;
    private uint _next;
    private int _disconnections;

    public Firmware(string id, int port, string secret, string boot = "it1")
    {
        Id = id;
        Boot = boot;
        _port = port;
        _secret = secret;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var ack = JsonDocument.Parse(e.ApplicationMessage.Payload).RootElement;
            if (ack.GetProperty("boot").GetString() == Boot)
            {
                var seq = ack.GetProperty("seq").GetUInt32();
                foreach (var key in _unacked.Keys.Where(k => k <= seq))
                {
                    _unacked.TryRemove(key, out _);
                }

                Atomic.Max(ref _ackedThrough, seq);
            }

            return Task.CompletedTask;
        };
        _client.DisconnectedAsync += e =>
        {
            if (e.ClientWasConnected)
            {
                Interlocked.Increment(ref _disconnections);
            }

            return Task.CompletedTask;
        };
    }

    public string Id { get; }

    public string Boot { get; }

    public int ReadingsPerMessage { get; init; } = 10;

    /// <summary>Readings published so far (each message counted once, however often it was resent).</summary>
    public int ReadingsSent => (int)_next * ReadingsPerMessage;

    public bool AllAcked => _unacked.IsEmpty;

    /// <summary>The highest seq the service has acked to this device (-1 before the first ack).</summary>
    public long AckedThrough => Interlocked.Read(ref _ackedThrough);

    /// <summary>PEM file of the CA to trust: connect over TLS (to the broker's 8883 listener) instead of plain TCP.</summary>
    public string? CaFile { get; init; }

    /// <summary>How often an established connection was lost (the broker closed it, say, because another
    /// client took over the session), not counting <see cref="DisposeAsync"/>.</summary>
    public int Disconnections => Volatile.Read(ref _disconnections);

    public async Task ConnectAsync()
    {
        if (_client.IsConnected)
        {
            return;
        }

        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _port)
            .WithClientId(Id)
            .WithCredentials(Id, DeviceCredentials.Token(Id, _secret))
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart();
        if (CaFile is not null)
        {
            options = options.WithTlsOptions(Tls(CaFile));
        }

        var result = await _client.ConnectAsync(options.Build());
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"{Id} was refused: {result.ResultCode}");
        }

        await _client.SubscribeAsync($"devices/{Id}/ack", MqttQualityOfServiceLevel.AtLeastOnce);
    }

    public Task PublishBirthAsync(string model, string batch) => PublishRawAsync($"devices/{Id}/birth", Encoding.UTF8.GetBytes(
        $$"""{"v":1,"kind":"shoe","model":"{{model}}","batch":"{{batch}}","firmware":"1.0.0","manufactured":"2026-01-05","wearer_kg":70}"""), retain: true);

    /// <summary>Publishes the next message: readings one second apart, with timestamps unique to this device.</summary>
    public async Task SendNextAsync(long baseMs)
    {
        var seq = _next++;
        var readings = string.Join(',', Enumerable.Range(0, ReadingsPerMessage).Select(i => string.Create(CultureInfo.InvariantCulture,
            $$$"""{"ts":{{{baseMs + (((seq * ReadingsPerMessage) + i) * 1000L)}}},"m":{"distance_m":{{{10 + i}}},"steps":{{{seq}}}}}""")));
        var payload = Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"{{Boot}}","seq":{{seq}},"readings":[{{readings}}]}""");
        _unacked[seq] = payload;
        await TryPublishAsync(seq, payload);
    }

    /// <summary>Resends everything unacked (after reconnecting if the connection was lost).</summary>
    public async Task ResendUnackedAsync()
    {
        foreach (var (seq, payload) in _unacked.OrderBy(p => p.Key).ToList())
        {
            await TryPublishAsync(seq, payload);
        }
    }

    /// <summary>Resends until every message is acked, or fails after <paramref name="timeout"/>.</summary>
    public async Task WaitAllAckedAsync(TimeSpan timeout, TimeSpan resendEvery)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!AllAcked)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Id}: {_unacked.Count} messages still unacked (acked through {Interlocked.Read(ref _ackedThrough)}).");
            }

            await Task.Delay(resendEvery);
            await ResendUnackedAsync();
        }
    }

    public async Task<MqttClientPublishResult?> PublishRawAsync(string topic, byte[] payload, bool retain = false)
    {
        await ConnectAsync();
        return await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag(retain).Build());
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }

    private async Task TryPublishAsync(uint seq, byte[] payload)
    {
        try
        {
            await PublishRawAsync($"devices/{Id}/telemetry", payload);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or OperationCanceledException)
        {
            // Kept in _unacked; the next resend tries again.
            _ = seq;
        }
    }

    /// <summary>TLS that trusts only <paramref name="caFile"/> and checks the broker's name (its address).</summary>
    internal static MqttClientTlsOptions Tls(string caFile)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(caFile);
        return new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithTargetHost("127.0.0.1")
            // The same check the service makes of its broker.
            .WithCertificateValidationHandler(e => Ingest.Mqtt.MqttClientOptionsFactory.IsTrusted(e, roots))
            .Build();
    }
}
