using System.Globalization;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Tells a broker that has stopped delivering, or delivers at a crawl, from a quiet fleet. The subscriber publishes a
/// probe to <see cref="Topic"/>, which its own subscription matches, so the broker queues it for the subscriber
/// behind everything else. A healthy broker sends it straight back when the pipeline keeps up. A probe still on its
/// way after <c>stallAfter</c>, while the pipeline was idle at every check since it was sent (nothing queued,
/// nothing held), means the broker is not sending what it has: that is the stall this class reports. A pipeline
/// that was busy at any check is the bottleneck itself (the broker is rightly waiting for acknowledgements), and
/// the probe is simply waiting its turn.
/// </summary>
internal sealed class DeliveryWatch(TimeSpan stallAfter, TimeProvider time)
{
    /// <summary>Matched by <c>devices/+/telemetry</c>; <c>$probe</c> is no device id, so no device can publish here.</summary>
    public const string Topic = "devices/$probe/telemetry";

    /// <summary>Tells this process's probes from another instance's.</summary>
    private readonly string _instance = Guid.NewGuid().ToString("N");

    private readonly object _lock = new();
    private long _sequence;
    private long _sentAt;
    private bool _busySeen;

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

    /// <summary>Starts a probe; returns the payload to publish.</summary>
    public string Send()
    {
        lock (_lock)
        {
            _sequence++;
            _sentAt = time.GetTimestamp();
            _busySeen = false;
            return string.Create(CultureInfo.InvariantCulture, $"{_instance}:{_sequence}");
        }
    }

    /// <summary>A probe came back: true when it is the one on its way (older probes and other instances' are ignored).</summary>
    public bool Returned(ReadOnlySpan<char> payload)
    {
        lock (_lock)
        {
            var expected = string.Create(CultureInfo.InvariantCulture, $"{_instance}:{_sequence}");
            if (_sentAt == 0 || !payload.SequenceEqual(expected))
            {
                return false;
            }

            _sentAt = 0;
            return true;
        }
    }

    /// <summary>Forgets the probe on its way: the connection was replaced, or the publish failed.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _sentAt = 0;
        }
    }

    /// <summary>
    /// A check, every probe interval: whether the broker has stalled. A probe has been on its way for
    /// <c>stallAfter</c>, and this check and every earlier one since it was sent found the pipeline idle
    /// (<paramref name="queued"/> and <paramref name="held"/> zero).
    /// </summary>
    public bool IsStalled(int queued, int held)
    {
        lock (_lock)
        {
            if (_sentAt == 0)
            {
                return false;
            }

            if (queued > 0 || held > 0)
            {
                _busySeen = true;
            }

            return !_busySeen && time.GetElapsedTime(_sentAt) >= stallAfter;
        }
    }
}
