using Telemetry.Models.Learning;

namespace Telemetry.Grains.Serialization;

/// <summary>Stores a <see cref="WearHistory"/> as <see cref="WearHistorySurrogate"/>. The usages store an empty history
/// as absent (see <see cref="ShoeUsageConverter"/>): only twins served by the curve fit carry one.</summary>
[RegisterConverter]
internal sealed class WearHistoryConverter : IConverter<WearHistory, WearHistorySurrogate>
{
    public WearHistory ConvertFromSurrogate(in WearHistorySurrogate surrogate) => WearHistory.Restore(surrogate.Ages, surrogate.Progress, surrogate.LastWeek);

    public WearHistorySurrogate ConvertToSurrogate(in WearHistory value) => new()
    {
        Ages = [.. value.Ages],
        Progress = [.. value.Progress],
        LastWeek = value.LastWeek,
    };

    /// <summary>The history a usage stores: none while it is empty.</summary>
    public static WearHistory? Stored(WearHistory history) => history.Count == 0 && history.LastWeek < 0 ? null : history;

    /// <summary>The history a usage is restored with: a new one where none was stored, in the week of its usage and
    /// bounded by it (<see cref="WearHistory.Bound"/>).</summary>
    public static WearHistory Restored(WearHistory? stored, long? firstMs, long? lastMs, double age)
    {
        var history = stored ?? new WearHistory();
        history.Week = firstMs is { } first && lastMs is { } last ? WearHistory.WeekOf(first, last) : 0;
        history.Bound(history.Week, age);
        return history;
    }
}
