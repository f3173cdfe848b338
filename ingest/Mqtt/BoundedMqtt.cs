using MQTTnet;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Requests that wait for the broker's answer, each bounded by the client's <see cref="MqttClientOptions.Timeout"/>
/// (SUBSCRIBE and UNSUBSCRIBE: by that long without any delivery, <see cref="SubscribeAsync"/>). MQTTnet 5 applies that timeout only
/// when the caller's token cannot be cancelled; the service's connection loops pass their stopping token, so without
/// this a broker that accepts the TCP connection and then says nothing would hold a loop for good: no reconnect, no
/// health report, ingest stalled without a word.
/// </summary>
internal static class BoundedMqtt
{
    public static async Task<MqttClientConnectResult> ConnectAsync(IMqttClient client, MqttClientOptions options, CancellationToken stoppingToken)
    {
        using var bounded = Bound(options.Timeout, stoppingToken);
        try
        {
            return await client.ConnectAsync(options, bounded.Token);
        }
        catch (Exception) when (bounded.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            // MQTTnet reports a cancelled wait as cancellation or as its own timeout exception, by where it was.
            throw new TimeoutException(FormattableString.Invariant($"the broker did not answer CONNECT within {options.Timeout.TotalSeconds:0.#} s"));
        }
    }

    /// <summary>
    /// SUBSCRIBE, answered or given up on; returns the filters the broker refused or granted below QoS 1, with its
    /// reason codes, empty when it granted each at QoS 1 or above. MQTTnet reports refusals in the result, not by
    /// throwing.
    /// <para>
    /// The wait is given up only after a whole <see cref="MqttClientOptions.Timeout"/> in which
    /// <paramref name="progressing"/> saw nothing come in. A resumed session's backlog comes right after CONNACK and
    /// the SUBACK waits behind it, for as long as the pipeline takes to acknowledge its way through. Given up on, the
    /// SUBACK would still arrive (MQTTnet 5.2 ignores it, and keeps the connection), but nobody would read which filters
    /// it refused: so while deliveries come, the wait goes on.
    /// </para>
    /// </summary>
    public static async Task<IReadOnlyList<(string Filter, MqttClientSubscribeResultCode Code)>> SubscribeAsync(
        IMqttClient client, MqttClientSubscribeOptions subscription, Func<bool> progressing, TimeProvider time, CancellationToken stoppingToken)
    {
        var result = await AwaitAnswerAsync(client, "SUBSCRIBE", token => client.SubscribeAsync(subscription, token), progressing, time, stoppingToken);
        return result.Items
            .Where(i => i.ResultCode is not (MqttClientSubscribeResultCode.GrantedQoS1 or MqttClientSubscribeResultCode.GrantedQoS2))
            .Select(i => (i.TopicFilter.Topic, i.ResultCode))
            .ToList();
    }

    /// <summary>
    /// UNSUBSCRIBE, best effort: returns the filters the broker may still hold, each with why (its reason code, or the
    /// request's failure), empty when every one is gone. 0x11 (No subscription existed) is gone too: a session that never
    /// had the filter. Its UNSUBACK queues behind deliveries on the socket like a SUBACK, so it is waited for the same way
    /// (<see cref="SubscribeAsync"/>): while <paramref name="progressing"/> sees deliveries come. Throws only when stopping.
    /// </summary>
    public static async Task<IReadOnlyList<(string Filter, string Reason)>> TryUnsubscribeAsync(
        IMqttClient client, IReadOnlyList<string> filters, Func<bool> progressing, TimeProvider time, CancellationToken stoppingToken)
    {
        var builder = new MqttClientUnsubscribeOptionsBuilder();
        foreach (var filter in filters)
        {
            builder = builder.WithTopicFilter(filter);
        }

        var unsubscribe = builder.Build();
        try
        {
            var result = await AwaitAnswerAsync(client, "UNSUBSCRIBE", token => client.UnsubscribeAsync(unsubscribe, token), progressing, time, stoppingToken);
            // Reason codes below 0x80 are successes (MQTT 5, 3.11.2.2): 0x00 Success, 0x11 No subscription existed.
            return result.Items
                .Where(i => (int)i.ResultCode >= 0x80)
                .Select(i => (i.TopicFilter, $"{i.ResultCode} (0x{(int)i.ResultCode:X2})"))
                .ToList();
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            return filters.Select(f => (f, e.Message)).ToList();
        }
    }

    /// <summary>
    /// A request answered, given up on after a whole <see cref="MqttClientOptions.Timeout"/> in which
    /// <paramref name="progressing"/> saw nothing come in (<see cref="SubscribeNotAnsweredException"/>), or ended by the stop.
    /// </summary>
    private static async Task<T> AwaitAnswerAsync<T>(
        IMqttClient client, string packet, Func<CancellationToken, Task<T>> send, Func<bool> progressing, TimeProvider time, CancellationToken stoppingToken)
    {
        var timeout = client.Options.Timeout;
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var request = send(abandon.Token);
        while (!request.IsCompleted)
        {
            using var waited = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var delay = Task.Delay(timeout, time, waited.Token);
            if (await Task.WhenAny(request, delay) == request)
            {
                await waited.CancelAsync();
                break;
            }

            if (stoppingToken.IsCancellationRequested)
            {
                // MQTTnet ends a cancelled wait with its own timeout exception: stopping must read as stopping.
                await AbandonAsync(abandon, request);
                stoppingToken.ThrowIfCancellationRequested();
            }

            if (progressing())
            {
                continue;
            }

            await AbandonAsync(abandon, request);
            if (request.IsCompletedSuccessfully || !client.IsConnected)
            {
                // Answered as it was given up on, or the connection went: either way its outcome stands.
                break;
            }

            throw new SubscribeNotAnsweredException(FormattableString.Invariant(
                $"the broker did not answer {packet}, and delivered nothing, for {timeout.TotalSeconds:0.#} s"));
        }

        if (!request.IsCompletedSuccessfully && stoppingToken.IsCancellationRequested)
        {
            // Ended by the stop (the wait shares its token): MQTTnet says "timed out", but the service is stopping.
            await AbandonAsync(abandon, request);
            stoppingToken.ThrowIfCancellationRequested();
        }

        return await request;
    }

    private static async Task AbandonAsync(CancellationTokenSource abandon, Task request)
    {
        await abandon.CancelAsync();
        try
        {
            await request;
        }
        catch (Exception)
        {
            // Given up on: what it threw is no longer the point.
        }
    }

    /// <summary>
    /// True when connected and the broker answered a ping in time. Throws only when stopping. A ping that was not
    /// answered leaves MQTTnet's client connected, as far as it knows, and it refuses to connect again until it is
    /// disconnected (<see cref="DisconnectAsync"/>).
    /// </summary>
    public static async Task<bool> TryPingAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        if (!client.IsConnected)
        {
            return false;
        }

        using var bounded = Bound(client.Options.Timeout, stoppingToken);
        try
        {
            await client.PingAsync(bounded.Token);
            return true;
        }
        catch (Exception) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// A DISCONNECT that may never get through to a broker that has stopped reading: its sending is bounded, and a failure
    /// is no reason to report the broker unreachable (MQTTnet closes the socket when sending it fails). Afterwards the
    /// client can connect again. MQTTnet also waits, unbounded, for its message handler to return.
    /// </summary>
    public static async Task DisconnectAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        using var bounded = Bound(client.Options?.Timeout ?? TimeSpan.FromSeconds(10), stoppingToken);
        try
        {
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), bounded.Token);
        }
        catch (Exception) when (!stoppingToken.IsCancellationRequested)
        {
            // The connection is closed either way; the caller's next pass connects again.
        }
    }

    private static CancellationTokenSource Bound(TimeSpan timeout, CancellationToken stoppingToken)
    {
        var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        bounded.CancelAfter(timeout);
        return bounded;
    }
}

/// <summary>A SUBSCRIBE (or UNSUBSCRIBE) given up on: no answer, and nothing delivered, for a whole <see cref="MqttClientOptions.Timeout"/>.</summary>
internal sealed class SubscribeNotAnsweredException(string message) : TimeoutException(message);
