namespace Telemetry.Ingest.Pipeline;

/// <summary>
/// Which connection of the ingest subscriber is current, so that a delivery held across a reconnect is not
/// acknowledged on a connection that never received it (the broker redelivers it on the new one instead), and
/// a way for the pipeline to ask the subscriber to reconnect when it cannot acknowledge.
/// </summary>
internal sealed class SubscriberConnection
{
    private int _current;
    private int _reconnectRequested;

    /// <summary>The number of the connection messages arrive on now (0 before the first).</summary>
    public int Current => Volatile.Read(ref _current);

    /// <summary>Called by the subscriber before it (re)connects, and before it drops a connection on purpose; returns
    /// the new connection's number. Deliveries numbered before it are stale.</summary>
    public int Opened() => Interlocked.Increment(ref _current);

    /// <summary>Asks the subscriber to drop and reopen its connection, so the broker redelivers what is unacknowledged.</summary>
    public void RequestReconnect() => Volatile.Write(ref _reconnectRequested, 1);

    /// <summary>True once per request.</summary>
    public bool TakeReconnectRequest() => Interlocked.Exchange(ref _reconnectRequested, 0) == 1;
}
