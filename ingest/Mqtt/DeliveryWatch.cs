using System.Globalization;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Tells a broker that has stopped delivering from a quiet fleet. The subscriber publishes a probe to
/// <see cref="Topic"/>, which its own subscription matches, so the broker queues it for the subscriber behind
/// everything else. A quiet fleet sends the probe straight back. A stalled broker does not: the probe waits,
/// nothing else arrives either, and the pipeline has nothing left to do. That is the stall this class reports.
/// A busy pipeline (messages queued or held for a retry) is never a stall: the broker is then rightly waiting
/// for acknowledgements.
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
    /// Whether the broker has stalled: a probe is on its way, nothing has arrived since
    /// <paramref name="lastDelivery"/> (a <see cref="TimeProvider.GetTimestamp"/> value, 0 for never) for
    /// <c>stallAfter</c> measured from the later of it and the probe, and the pipeline is idle.
    /// </summary>
    public bool IsStalled(long lastDelivery, int queued, int held)
    {
        lock (_lock)
        {
            if (_sentAt == 0 || queued > 0 || held > 0)
            {
                return false;
            }

            return time.GetElapsedTime(Math.Max(_sentAt, lastDelivery)) >= stallAfter;
        }
    }
}
