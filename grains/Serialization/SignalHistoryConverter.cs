using Telemetry.Models.Faults;

namespace Telemetry.Grains.Serialization;

/// <summary>Stores a <see cref="SignalHistory"/> as <see cref="SignalHistorySurrogate"/>, its lists as they are (null
/// stays null: a history keeps no list it does not use).</summary>
[RegisterConverter]
internal sealed class SignalHistoryConverter : IConverter<SignalHistory, SignalHistorySurrogate>
{
    public SignalHistory ConvertFromSurrogate(in SignalHistorySurrogate surrogate) =>
        new(surrogate.Baseline, surrogate.Recent, surrogate.BaselineMedian, surrogate.BaselineScale);

    public SignalHistorySurrogate ConvertToSurrogate(in SignalHistory value) => new()
    {
        Baseline = value.StoredBaseline,
        Recent = value.StoredRecent,
        BaselineMedian = value.BaselineMedian,
        BaselineScale = value.BaselineScale,
    };
}
