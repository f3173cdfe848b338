using Telemetry.Grains.Alerts;

namespace Telemetry.Ingest.Api;

/// <summary>
/// The most recent alert events seen by this process, newest first, for <c>GET /api/alerts</c>. Bounded:
/// the full, persisted alert history with filters and paging comes with the alert lifecycle.
/// </summary>
internal sealed class AlertFeed
{
    public const int Capacity = 1000;

    private readonly AlertEvent?[] _ring = new AlertEvent?[Capacity];
    private readonly Lock _lock = new();
    private long _count;

    public void Add(AlertEvent alert)
    {
        lock (_lock)
        {
            _ring[_count % Capacity] = alert;
            _count++;
        }
    }

    public List<AlertEvent> Recent(string? device, int limit)
    {
        var result = new List<AlertEvent>(Math.Min(limit, Capacity));
        lock (_lock)
        {
            for (var i = _count - 1; i >= Math.Max(0, _count - Capacity) && result.Count < limit; i--)
            {
                var alert = _ring[i % Capacity]!;
                if (device is null || alert.Device == device)
                {
                    result.Add(alert);
                }
            }
        }

        return result;
    }
}
