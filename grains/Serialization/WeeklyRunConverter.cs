using Telemetry.Models.Rul;

namespace Telemetry.Grains.Serialization;

/// <summary>Stores a <see cref="WeeklyRun"/> as <see cref="WeeklyRunSurrogate"/>. A damaged store restores fewer rows,
/// never a wrong row (<see cref="WeeklyRun.Restore"/>).</summary>
[RegisterConverter]
internal sealed class WeeklyRunConverter : IConverter<WeeklyRun, WeeklyRunSurrogate>
{
    public WeeklyRun ConvertFromSurrogate(in WeeklyRunSurrogate surrogate)
    {
        var columns = surrogate.Columns ?? [];
        var (times, values) = (surrogate.Times ?? [], surrogate.Values ?? []);
        var width = columns.Length;
        var count = width == 0 ? 0 : Math.Min(times.Length, values.Length / width);
        var rows = new double[count][];
        for (var i = 0; i < count; i++)
        {
            rows[i] = values.AsSpan(i * width, width).ToArray();
        }

        return WeeklyRun.Restore(surrogate.Shoe, columns, surrogate.Head, surrogate.Tail, surrogate.Km, surrogate.Week, surrogate.WeekKm,
            surrogate.WeekSeconds, surrogate.WeekCycles, times.AsSpan(0, count).ToArray(), rows, surrogate.Sums, surrogate.Counts, surrogate.Origin, surrogate.FromNew);
    }

    public WeeklyRunSurrogate ConvertToSurrogate(in WeeklyRun value) => new()
    {
        Shoe = value.Shoe,
        Columns = value.Columns,
        Head = value.Head,
        Tail = value.Tail,
        Km = value.Km,
        Week = value.Week,
        WeekKm = value.WeekKm,
        WeekSeconds = value.WeekSeconds,
        WeekCycles = value.WeekCycles,
        Times = [.. value.Times],
        Values = [.. value.Rows.SelectMany(r => r)],
        Sums = value.Sums.ToArray(),
        Counts = value.Counts.ToArray(),
        Origin = value.Origin,
        FromNew = value.FromNew,
    };
}
