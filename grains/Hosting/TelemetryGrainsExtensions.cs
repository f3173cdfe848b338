using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Hosting;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Grains.Quality;
using Telemetry.Models.Wear;

namespace Telemetry.Grains.Hosting;

/// <summary>
/// What the grains need from the silo they run in, so that any host (the service, a test cluster, a bench) gets the
/// same grain layer from one call.
/// <para>
/// The host still chooses, before or after this call: the grain storage named <see cref="DeviceGrain.StorageName"/>,
/// where alerts and quality changes go (<see cref="IAlertSink"/>, <see cref="IQualitySink"/>), and optionally the
/// wear model (the rule model unless it registers one), the cap on resident twins (unbounded unless it registers a
/// <see cref="ResidentTwins"/>) and the binding of <see cref="AlertsOptions"/> and <see cref="DedupeOptions"/>.
/// Whether SLA deadlines are also kept by an Orleans reminder follows from the silo: they are when a reminder store
/// is configured (see <see cref="AlertIndexGrain"/>).
/// </para>
/// </summary>
public static class TelemetryGrainsExtensions
{
    public static ISiloBuilder AddTelemetryGrains(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<AlertsOptions>();
        services.AddOptions<DedupeOptions>();
        services.TryAddSingleton<AlertMetrics>();
        services.TryAddSingleton<TwinCounters>();
        services.TryAddSingleton<IWearModel, RuleWearModel>();
        services.TryAddSingleton(OwnRulModels.None);
        services.TryAddSingleton(sp => new ResidentTwins(int.MaxValue, sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<ResidentTwinSweeper>();
        services.TryAddSingleton<ExposureCollector>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ExposureCollector>());
        services.AddHostedService<SlaMonitor>();
        services.TryAddSingleton<AlertFanOut>();
        return silo;
    }
}
