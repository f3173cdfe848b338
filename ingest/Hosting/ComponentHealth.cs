using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Telemetry.Ingest.Hosting;

/// <summary>
/// Where each part of the service says how it is doing: a partition, the reading store, the twin store, a
/// broker connection, the clock. A component reports <see cref="HealthStatus.Degraded"/> or
/// <see cref="HealthStatus.Unhealthy"/> with a reason while it is failing and <see cref="Clear"/>s it once it has
/// recovered; <c>/health</c> shows the worst state with every reason, so no fault stalls ingest silently.
/// </summary>
public sealed class ComponentHealth(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, ComponentState> _states = new(StringComparer.Ordinal);

    /// <summary>Records that <paramref name="component"/> is not healthy, and why (replaces its earlier report).</summary>
    public void Report(string component, HealthStatus status, string reason)
    {
        if (status == HealthStatus.Healthy)
        {
            Clear(component);
            return;
        }

        _states.AddOrUpdate(
            component,
            _ => new ComponentState(status, reason, time.GetUtcNow()),
            (_, old) => old.Status == status ? old with { Reason = reason } : new ComponentState(status, reason, time.GetUtcNow()));
    }

    /// <summary>Records that <paramref name="component"/> works again.</summary>
    public void Clear(string component) => _states.TryRemove(component, out _);

    /// <summary>The components that are not healthy now, by name.</summary>
    public IReadOnlyDictionary<string, ComponentState> Failing() => new SortedDictionary<string, ComponentState>(_states, StringComparer.Ordinal);

    /// <summary>The worst state reported (Healthy when nothing is failing).</summary>
    public HealthStatus Worst() => _states.IsEmpty ? HealthStatus.Healthy : _states.Values.Min(s => s.Status);
}

/// <summary>A failing component's state, its reason, and since when it has been in that state.</summary>
public sealed record ComponentState(HealthStatus Status, string Reason, DateTimeOffset Since);

/// <summary>The health check behind <c>/health</c> for everything reported to <see cref="ComponentHealth"/>.</summary>
internal sealed class ComponentHealthCheck(ComponentHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failing = health.Failing();
        if (failing.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("every component works"));
        }

        var reasons = string.Join("; ", failing.Select(p => $"{p.Key}: {p.Value.Reason}"));
        var data = failing.ToDictionary(p => p.Key, p => (object)$"{p.Value.Status} since {p.Value.Since:O}: {p.Value.Reason}", StringComparer.Ordinal);
        return Task.FromResult(new HealthCheckResult(health.Worst(), reasons, data: data));
    }
}
