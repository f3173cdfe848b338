using System.Buffers;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Telemetry.Bench.Load;

/// <summary>
/// One simulated device: its own MQTT connection, its own buffer of unacknowledged messages (a window of
/// them in flight), and the firmware's duties from docs/uplink.md: birth on every connect, delete a message
/// only on the service's ack (never on PUBACK), resend what is not acked after a timeout or a reconnect, and
/// reconnect by itself when the broker goes away.
/// </summary>
internal sealed class LoadDevice : IDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    private readonly LoadOptions _options;
    private readonly int _index;
    private readonly LoadCounters _counters;
    private readonly Pacer _pacer;
    private readonly SemaphoreSlim _connectGate;
    private readonly TimeProvider _time;
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly MqttClientOptions _clientOptions;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Random _jitter;
    private readonly Lock _gate = new();

    // Per seq: when it was first and last published (TimeProvider timestamps, 0 = never).
    private readonly long[] _firstSent;
    private readonly long[] _lastSent;
    private readonly HashSet<long> _rejectedReadings = [];
    private readonly HashSet<uint> _rejectedMessages = [];
    private long _ackedUpTo = -1;
    private uint _nextSeq;
    private long _highestPublished = -1;
    private bool _resendAll;
    private int _connectedOnce;

    public LoadDevice(LoadOptions options, int index, string? password, LoadCounters counters, Pacer pacer, SemaphoreSlim connectGate, TimeProvider time)
    {
        _options = options;
        _index = index;
        _counters = counters;
        _pacer = pacer;
        _connectGate = connectGate;
        _time = time;
        _jitter = new Random(index);
        _firstSent = new long[options.Messages];
        _lastSent = new long[options.Messages];
        Id = options.DeviceId(index);
        _clientOptions = ClientOptions(options, Id, password);
        _client.ApplicationMessageReceivedAsync += e =>
        {
            OnReceived(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload);
            return Task.CompletedTask;
        };
        _client.DisconnectedAsync += _ =>
        {
            Wake();
            return Task.CompletedTask;
        };
    }

    public string Id { get; }

    /// <summary>Highest contiguous seq the service acknowledged (−1: none).</summary>
    public long AckedUpTo
    {
        get
        {
            lock (_gate)
            {
                return _ackedUpTo;
            }
        }
    }

    /// <summary>Messages published at least once (or acked from an earlier run of the same boot).</summary>
    public long MessagesSent
    {
        get
        {
            lock (_gate)
            {
                return Math.Max(_ackedUpTo, _highestPublished) + 1;
            }
        }
    }

    /// <summary>Messages published and not yet acked: still in the device's buffer.</summary>
    public long MessagesHeld
    {
        get
        {
            lock (_gate)
            {
                return Math.Max(0, _highestPublished - _ackedUpTo);
            }
        }
    }

    /// <summary>Readings of acked messages that the service rejected individually or with their message.</summary>
    public long ReadingsRejected
    {
        get
        {
            lock (_gate)
            {
                return _rejectedReadings.Count + ((long)_rejectedMessages.Count * _options.Readings);
            }
        }
    }

    public bool Done => AckedUpTo >= _options.Messages - 1;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!Done && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    await ConnectAsync(cancellationToken);
                }

                await PublishDueAsync(cancellationToken);
                await _wake.WaitAsync(UntilNextResend(), cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
            {
                // The broker went away mid-publish or the connect failed: what was not acked stays in the
                // buffer and goes again once connected.
                await Task.Delay(Backoff(), _time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        if (_client.IsConnected)
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptions(), quick.Token);
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
            {
            }
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _wake.Dispose();
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _connectGate.WaitAsync(cancellationToken);
        try
        {
            var result = await _client.ConnectAsync(_clientOptions, cancellationToken);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                _counters.ConnectFailed();
                throw new InvalidOperationException($"{Id}: CONNACK {result.ResultCode}");
            }
        }
        finally
        {
            _connectGate.Release();
        }

        if (Interlocked.Exchange(ref _connectedOnce, 1) == 1)
        {
            _counters.Reconnected();
        }

        // Subscribe before anything is published, so no ack or error can slip past (docs/uplink.md).
        await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter($"devices/{Id}/ack", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter($"devices/{Id}/errors", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), cancellationToken);
        await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic($"devices/{Id}/birth")
            .WithPayload(LoadPayloads.Birth())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .Build(), cancellationToken);
        lock (_gate)
        {
            // The broker may have lost whatever it had taken (a crash without persistence): send it all again.
            _resendAll = true;
        }
    }

    private async Task PublishDueAsync(CancellationToken cancellationToken)
    {
        while (NextToPublish() is { } seq)
        {
            await _pacer.WaitAsync(cancellationToken);
            var now = _time.GetTimestamp();
            lock (_gate)
            {
                if (seq <= _ackedUpTo)
                {
                    continue;
                }

                // Counted when it leaves for the broker, not when it is taken from the buffer: a run that
                // stops in between has neither sent nor lost it.
                if (_firstSent[seq] == 0)
                {
                    _firstSent[seq] = now;
                    if (_options.Faulty > _index && seq == _options.FaultAtSeq)
                    {
                        _counters.FaultSent(Id, now);
                    }

                    _highestPublished = Math.Max(_highestPublished, seq);
                    _counters.Sent(_options.Readings);
                }
                else
                {
                    _counters.Resent();
                }

                _lastSent[seq] = now;
            }

            await _client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"devices/{Id}/telemetry")
                .WithPayload(LoadPayloads.Telemetry(_options, _index, seq))
                .WithContentType(LoadPayloads.ContentType(_options))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), cancellationToken);
        }
    }

    /// <summary>The oldest unacked message due for a resend, else the next new message if the window has room.</summary>
    private uint? NextToPublish()
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            var first = (uint)(_ackedUpTo + 1);
            if (_resendAll)
            {
                // After a (re)connect every unacked message is due once, oldest first.
                for (var s = first; s < _nextSeq; s++)
                {
                    _lastSent[s] = 0;
                }

                _resendAll = false;
            }

            for (var s = first; s < _nextSeq; s++)
            {
                if (_lastSent[s] == 0 || _time.GetElapsedTime(_lastSent[s], now) >= _options.ResendAfter)
                {
                    return s;
                }
            }

            if (_nextSeq < _options.Messages && _nextSeq - first < _options.Window)
            {
                return _nextSeq++;
            }

            return null;
        }
    }

    private TimeSpan UntilNextResend()
    {
        lock (_gate)
        {
            if (_ackedUpTo + 1 >= _nextSeq)
            {
                return _ackedUpTo >= _options.Messages - 1 ? TimeSpan.Zero : _options.ResendAfter;
            }

            var oldest = long.MaxValue;
            for (var s = (uint)(_ackedUpTo + 1); s < _nextSeq; s++)
            {
                oldest = Math.Min(oldest, _lastSent[s]);
            }

            var wait = _options.ResendAfter - _time.GetElapsedTime(oldest);
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
    }

    private void OnReceived(string topic, ReadOnlySequence<byte> payload)
    {
        var (boot, seq, reading, reason) = Parse(payload);
        if (boot != _options.Boot || seq is not { } s)
        {
            return;
        }

        if (topic.EndsWith("/ack", StringComparison.Ordinal))
        {
            OnAck(s);
        }
        else if (reason == "rate_limited")
        {
            // Not final: the message stays in the buffer and goes again after the resend timeout.
            _counters.RateLimited();
        }
        else if (reason is not null && s < _options.Messages)
        {
            lock (_gate)
            {
                var added = reading is { } r ? _rejectedReadings.Add(((long)s * 1000) + r) : _rejectedMessages.Add((uint)s);
                if (added)
                {
                    _counters.Rejected(reason, reading is null ? _options.Readings : 1, messageLevel: reading is null);
                }
            }
        }

        Wake();
    }

    private void OnAck(long seq)
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            var upTo = Math.Min(seq, _options.Messages - 1);
            for (var s = _ackedUpTo + 1; s <= upTo; s++)
            {
                // A seq acked before this run sent it was delivered by an earlier run of the same boot.
                _counters.Acked(_options.Readings, _firstSent[s] == 0 ? null : _time.GetElapsedTime(_firstSent[s], now));
            }

            if (upTo > _ackedUpTo)
            {
                _ackedUpTo = upTo;
                _nextSeq = (uint)Math.Max(_nextSeq, upTo + 1);
            }
        }
    }

    private static (string? Boot, long? Seq, int? Reading, string? Reason) Parse(ReadOnlySequence<byte> payload)
    {
        string? boot = null, reason = null;
        long? seq = null;
        int? reading = null;
        try
        {
            var reader = new Utf8JsonReader(payload);
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
                {
                    continue;
                }

                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "boot" when reader.TokenType == JsonTokenType.String:
                        boot = reader.GetString();
                        break;
                    case "seq" when reader.TokenType == JsonTokenType.Number:
                        seq = reader.GetInt64();
                        break;
                    case "reading" when reader.TokenType == JsonTokenType.Number:
                        reading = reader.GetInt32();
                        break;
                    case "reason" when reader.TokenType == JsonTokenType.String:
                        reason = reader.GetString();
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return (null, null, null, null);
        }

        return (boot, seq, reading, reason);
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    private TimeSpan Backoff() => TimeSpan.FromMilliseconds(100 + _jitter.Next((int)MaxBackoff.TotalMilliseconds));

    private static MqttClientOptions ClientOptions(LoadOptions options, string id, string? password)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithClientId(id)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart()
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (!options.Anonymous)
        {
            builder = builder.WithCredentials(options.Username ?? id, Encoding.UTF8.GetBytes(password ?? string.Empty));
        }

        if (options.Tls)
        {
            builder = builder.WithTlsOptions(LoadTls.Options(options));
        }

        return builder.Build();
    }
}
