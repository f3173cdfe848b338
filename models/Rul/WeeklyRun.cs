using System.Globalization;

namespace Telemetry.Models.Rul;

/// <summary>
/// A device's life as the weekly rows of a run-to-failure file: each row the week's mean of every column, at the
/// device's age when the week closed (cumulative km for shoes, the highest charge cycle count for bands). The same
/// code writes the rows of <c>simulate-runs</c> (<see cref="Simulation.RunToFailureExport"/>, the form a brand exports
/// its returns in for <c>train-rul</c>) and keeps a twin's rows for the model train-rul made of them, so that the
/// model is served the rows it was trained on. <c>pace_s_per_km</c> is the week's duration over its distance,
/// <c>wearer_kg</c> and <c>rated_mah</c> come from the device's birth, and every other column is the mean of the
/// metric of that name. A week without every column (a shoe left in the cupboard) gives no row, as in the export;
/// values are rounded as the export writes them (0.1 of time, 6 significant digits).
/// Only the first <see cref="Head"/> rows (where a unit's baseline and age start) and the newest <see cref="Tail"/>
/// are kept, so a twin's run stays bounded however long it lives. Not thread-safe: a twin's own.
/// </summary>
public sealed class WeeklyRun
{
    private readonly List<double> _times = [];
    private readonly List<double[]> _rows = [];
    private readonly double[] _sums;
    private readonly int[] _counts;

    /// <param name="shoe">True for a shoe (time: km), false for a band (time: charge cycles).</param>
    /// <param name="columns">The row's columns, in order.</param>
    /// <param name="head">First rows kept (at least 1: the row a unit's age counts from).</param>
    /// <param name="tail">Newest rows kept besides those (at least 1).</param>
    /// <param name="startKm">A shoe's km before the run's first reading (a twin that starts keeping rows part-way).</param>
    /// <param name="origin">The age (km or charge cycles) at which the part was new: a band's counter goes on across a new
    /// battery, and its rows' times are counted from the new one.</param>
    /// <param name="fromNew">Whether the rows start when the part was new, as every unit of a run-to-failure file does.</param>
    public WeeklyRun(bool shoe, string[] columns, int head, int tail, double startKm = 0, double origin = 0, bool fromNew = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(head, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tail, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(head, MaxRows);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tail, MaxRows);
        Shoe = shoe;
        Columns = columns;
        Head = head;
        Tail = tail;
        Km = double.IsFinite(startKm) ? Math.Max(0, startKm) : 0;
        Origin = double.IsFinite(origin) ? Math.Max(0, origin) : 0;
        FromNew = fromNew;
        _sums = new double[columns.Length];
        _counts = new int[columns.Length];
    }

    /// <summary>The most <see cref="Head"/> or <see cref="Tail"/> may be: twenty years of weeks.</summary>
    public const int MaxRows = 1040;

    public bool Shoe { get; }

    /// <summary>The age (km or charge cycles) the rows' times count from: where the part was new.</summary>
    public double Origin { get; }

    /// <summary>Whether the rows start when the part was new; a run started part-way keeps no rows (a model trained on
    /// whole lives reads a unit's first row as a new one's).</summary>
    public bool FromNew { get; private set; }

    public string[] Columns { get; }

    public int Head { get; }

    public int Tail { get; }

    /// <summary>A shoe's cumulative km up to the open week (summed a week at a time, as the export does).</summary>
    public double Km { get; private set; }

    /// <summary>The open week's number (its owner's count, e.g. weeks since the device's first reading).</summary>
    public int Week { get; set; }

    /// <summary>The open week's km, seconds and highest charge cycle count (−1 before its first).</summary>
    public double WeekKm { get; private set; }

    public double WeekSeconds { get; private set; }

    public double WeekCycles { get; private set; } = -1;

    /// <summary>Raised by every row added, for a served model's cache of its answer.</summary>
    public int Version { get; private set; }

    /// <summary>A served model's answer at the newest row of one version of the run (not stored).</summary>
    internal ServedCache? Cached { get; set; }

    /// <summary>Rows kept, oldest first.</summary>
    public int Count => _times.Count;

    public IReadOnlyList<double> Times => _times;

    public IReadOnlyList<double[]> Rows => _rows;

    /// <summary>The open week's sums and counts per column (stored with the run).</summary>
    public ReadOnlySpan<double> Sums => _sums;

    public ReadOnlySpan<int> Counts => _counts;

    /// <summary>Adds one metric of a reading of the open week.</summary>
    public void Observe(string name, double value)
    {
        if (!double.IsFinite(value))
        {
            return;
        }

        switch (name)
        {
            case "distance_m":
                WeekKm += value / 1000;
                break;
            case "duration_s":
                WeekSeconds += value;
                break;
            case "charge_cycles" when value >= 0:
                WeekCycles = Math.Max(WeekCycles, value);
                break;
        }

        var column = Array.IndexOf(Columns, name);
        if (column >= 0)
        {
            _sums[column] += value;
            _counts[column]++;
        }
    }

    /// <summary>
    /// Closes the open week: a row when every column has a value (<paramref name="wearerKg"/> and <paramref name="ratedMah"/>
    /// from the birth) and the week has a time (a band's week without a charge count has none), then a new week. A time
    /// that goes back (a counter reset) ends the rows: the run is then no longer from new. Returns the row's time, or
    /// null when the week gave no row.
    /// </summary>
    public double? CloseWeek(double? wearerKg, double? ratedMah)
    {
        Km += WeekKm;
        var values = new double[Columns.Length];
        var complete = true;
        for (var c = 0; c < Columns.Length; c++)
        {
            double? value = Columns[c] switch
            {
                "pace_s_per_km" when Shoe => WeekKm > 0 ? WeekSeconds / WeekKm : null,
                "wearer_kg" when Shoe => wearerKg,
                "rated_mah" when !Shoe => ratedMah,
                _ => _counts[c] > 0 ? _sums[c] / _counts[c] : null,
            };
            // A mean that overflowed (a device sending values near the largest double) is no row either.
            complete &= value is { } known && double.IsFinite(known);
            values[c] = complete ? Written(value!.Value) : 0;
        }

        var age = (Shoe ? Km : WeekCycles) - Origin;
        complete &= double.IsFinite(age) && (Shoe || WeekCycles >= 0);
        double? time = complete ? double.Parse(age.ToString("F1", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : null;
        if (time is { } t && (t < 0 || (Count > 0 && t < _times[^1])))
        {
            // A charge counter below where the part's rows are (reset by firmware or service): the part's age is no
            // longer known, so its rows end here and the run serves no more until a part is replaced.
            (time, FromNew) = (null, false);
            _times.Clear();
            _rows.Clear();
            Version++;
        }
        else if (time is { } row)
        {
            Add(row, values);
        }

        (WeekKm, WeekSeconds, WeekCycles) = (0, 0, -1);
        Array.Clear(_sums);
        Array.Clear(_counts);
        return time;
    }

    /// <summary>The run's rows as one unit of a run table, for a model trained on such rows; null before the first row.</summary>
    public RunTable? Table(string unit)
    {
        if (Count == 0)
        {
            return null;
        }

        var rows = _rows.Select(r => (double[])r.Clone()).ToArray();
        return new RunTable(Columns, [new RunTable.Unit(unit, [.. _times], rows)], rows.Length);
    }

    /// <summary>
    /// A run as stored. Rows that could not have been written (time not finite or going back, a row of another width,
    /// values not finite) end the rows restored there; beyond <see cref="Head"/> + <see cref="Tail"/> the newest are kept.
    /// </summary>
    public static WeeklyRun Restore(bool shoe, string[] columns, int head, int tail, double km, int week, double weekKm, double weekSeconds,
        double weekCycles, IReadOnlyList<double>? times, IReadOnlyList<double[]>? rows, IReadOnlyList<double>? sums, IReadOnlyList<int>? counts,
        double origin = 0, bool fromNew = true)
    {
        var run = new WeeklyRun(shoe, columns, Math.Clamp(head, 1, MaxRows), Math.Clamp(tail, 1, MaxRows), km, origin, fromNew)
        {
            Week = week,
            WeekKm = Finite(weekKm),
            WeekSeconds = Finite(weekSeconds),
            WeekCycles = double.IsFinite(weekCycles) ? Math.Max(-1, weekCycles) : -1,
        };
        var count = Math.Min(times?.Count ?? 0, rows?.Count ?? 0);
        for (var i = 0; i < count; i++)
        {
            var (time, row) = (times![i], rows![i]);
            if (!double.IsFinite(time) || row is null || row.Length != columns.Length || !row.All(double.IsFinite)
                || (run.Count > 0 && time < run._times[^1]))
            {
                break;
            }

            run.Add(time, (double[])row.Clone());
        }

        if (sums?.Count == columns.Length && counts?.Count == columns.Length && sums.All(double.IsFinite) && counts.All(n => n >= 0))
        {
            for (var c = 0; c < columns.Length; c++)
            {
                (run._sums[c], run._counts[c]) = (sums[c], counts[c]);
            }
        }

        run.Version = 0;
        return run;
    }

    /// <summary>The same rows kept as <paramref name="head"/> first and <paramref name="tail"/> newest (a model retrained
    /// with another window on the same columns): from new, and from the same origin, as before.</summary>
    public WeeklyRun Reshaped(int head, int tail) =>
        Restore(Shoe, Columns, head, tail, Km, Week, WeekKm, WeekSeconds, WeekCycles, _times, _rows, _sums, _counts, Origin, FromNew);

    /// <summary>The same run for a new part, new at <paramref name="origin"/> (km or charge cycles): no rows, the same week.</summary>
    public WeeklyRun Renewed(double origin) => new(Shoe, Columns, Head, Tail, startKm: 0, origin, fromNew: true) { Week = Week };

    /// <summary>A value as the export writes it (6 significant digits), so that the rows served are those trained on.</summary>
    public static double Written(double value) => double.Parse(value.ToString("G6", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    private void Add(double time, double[] values)
    {
        if (Count == Head + Tail)
        {
            _times.RemoveAt(Head);
            _rows.RemoveAt(Head);
        }

        _times.Add(time);
        _rows.Add(values);
        Version++;
    }

    /// <summary>A model's (its number's) answer at the newest row of one version of a run.</summary>
    internal sealed record ServedCache(long Model, int Version, RulEstimate Estimate);
}
