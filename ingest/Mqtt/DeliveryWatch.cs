using System.Globalization;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Tells a broker that has stopped delivering, or delivers at a crawl, from a fleet that is quiet or a pipeline that
/// is the bottleneck. The subscriber publishes a probe to <see cref="Topic"/>, which its own subscription matches, so
/// the broker queues it for the subscriber behind everything else. A stall is a probe that has not come back while,
/// for <c>stallAfter</c>, the pipeline was idle at every check and the broker delivered less than one in-flight window
/// (<c>turnover</c> deliveries): the broker is then not sending what it has. A busy check (messages queued, held or
/// in a round) or a window's worth of deliveries means the broker is delivering or rightly waiting for
/// acknowledgements, and the probe is waiting its turn; the stall clock starts again from there. Consecutive stalls
/// double the wait (up to 8×), so a broker that is slow rather than stuck is not reconnected in a loop.
/// </summary>
internal sealed class DeliveryWatch(TimeSpan stallAfter, int turnover, TimeProvider time)
{
    /// <summary>Matched by <c>devices/+/telemetry</c>; <c>$probe</c> is no device id, so no device can publish here.</summary>
    public const string Topic = TopicPrefix + "telemetry";

    /// <summary>Every probe's topic starts so, an instance's own in a shared group too (<see cref="SubscriberTopics"/>).</summary>
    public const string TopicPrefix = "devices/$probe/";

    /// <summary>Tells this process's probes from another instance's.</summary>
    private readonly string _instance = Guid.NewGuid().ToString("N");

    private readonly object _lock = new();
    private long _sequence;
    private long _sentAt;
    private long _progressAt;
    private long _receivedAtProgress;
    private int _consecutiveStalls;

    /// <summary>A probe is on its way.</summary>
    public bool Waiting
    {
        get
        {
            lock (_lock)
            {
                return _sentAt != 0;
            }
        }
    }

    /// <summary>How long an idle pipeline waits for the probe now: <c>stallAfter</c>, doubled per consecutive stall up to 8×.</summary>
    public TimeSpan StallAfter
    {
        get
        {
            lock (_lock)
            {
                return stallAfter * (1 << Math.Min(_consecutiveStalls, 3));
            }
        }
    }

    /// <summary>Starts a probe; <paramref name="received"/> is the subscriber's delivery count now. Returns the payload to publish.</summary>
    public string Send(long received)
    {
        lock (_lock)
        {
            _sequence++;
            _sentAt = time.GetTimestamp();
            _progressAt = _sentAt;
            _receivedAtProgress = received;
            return Payload();
        }
    }

    /// <summary>A probe came back: true when it is the one on its way (older probes and other instances' are ignored).</summary>
    public bool Returned(ReadOnlySpan<char> payload)
    {
        lock (_lock)
        {
            if (_sentAt == 0 || !payload.SequenceEqual(Payload()))
            {
                return false;
            }

            _sentAt = 0;
            _consecutiveStalls = 0;
            return true;
        }
    }

    /// <summary>Forgets the probe on its way: the connection was replaced, or the probe could not be published.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _sentAt = 0;
        }
    }

    /// <summary>
    /// A check, every probe interval. <paramref name="busy"/>: the pipeline has messages queued, held or in a round
    /// now; <paramref name="received"/>: the subscriber's delivery count now. True (once) when the broker has
    /// stalled; the probe is then forgotten and the next wait is longer.
    /// </summary>
    public bool IsStalled(bool busy, long received)
    {
        lock (_lock)
        {
            if (_sentAt == 0)
            {
                return false;
            }

            var now = time.GetTimestamp();
            if (busy || received - _receivedAtProgress >= turnover)
            {
                _progressAt = now;
                _receivedAtProgress = received;
                return false;
            }

            if (time.GetElapsedTime(_progressAt, now) < stallAfter * (1 << Math.Min(_consecutiveStalls, 3)))
            {
                return false;
            }

            _sentAt = 0;
            _consecutiveStalls++;
            return true;
        }
    }

    private string Payload() => string.Create(CultureInfo.InvariantCulture, $"{_instance}:{_sequence}");
}
