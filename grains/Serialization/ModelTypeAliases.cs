using Orleans.Serialization.Configuration;
using Telemetry.Grains.Serialization;
using Telemetry.Models.Faults;
using Telemetry.Models.Learning;

[assembly: TypeManifestProvider(typeof(ModelTypeAliases))]

namespace Telemetry.Grains.Serialization;

/// <summary>
/// The names the model types had as [Alias] when models/ serialized them itself. A twin's own fields are declared with
/// these exact types, so no name is written there; a value held as object (or a base type) is written by name, and
/// these keep that name the same. They name the model types, not the surrogates, which are never written by name.
/// </summary>
internal sealed class ModelTypeAliases : TypeManifestProviderBase
{
    protected override void ConfigureInner(TypeManifestOptions options)
    {
        options.WellKnownTypeAliases["telemetry.device-fault-state"] = typeof(DeviceFaultState);
        options.WellKnownTypeAliases["telemetry.signal-history"] = typeof(SignalHistory);
        options.WellKnownTypeAliases["telemetry.capacity-trend"] = typeof(CapacityTrend);
        options.WellKnownTypeAliases["telemetry.shoe-usage"] = typeof(ShoeUsage);
        options.WellKnownTypeAliases["telemetry.band-usage"] = typeof(BandUsage);
        options.WellKnownTypeAliases["telemetry.wear-history"] = typeof(WearHistory);
        options.WellKnownTypeAliases["telemetry.weekly-run"] = typeof(Telemetry.Models.Rul.WeeklyRun);
    }
}
