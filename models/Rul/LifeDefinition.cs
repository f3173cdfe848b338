using System.Globalization;

namespace Telemetry.Models.Rul;

/// <summary>
/// End of life as the first time a health indicator crosses a limit, as batteries (80% of capacity) and midsoles
/// (60% cushioning) are judged: <c>capacity&lt;1.4</c>, <c>wear&gt;0.9</c>, or <c>capacity&lt;80%</c> for a limit
/// relative to the unit's own first values (the median of its first <see cref="ReferenceRows"/> rows). The
/// indicator is smoothed with a centred rolling median of <see cref="Smooth"/> rows first, so that one noisy row
/// does not end a life; real indicators also recover for a while after a rest, which the median rides over.
/// </summary>
public sealed record LifeDefinition(string Column, bool Below, double Limit, bool Relative, int Smooth)
{
    /// <summary>Rows whose median is a unit's reference for a relative limit.</summary>
    public const int ReferenceRows = 5;

    /// <summary>Reads <c>COLUMN&lt;VALUE</c> or <c>COLUMN&gt;VALUE</c>; a value ending in % is relative to the unit's first rows.</summary>
    public static LifeDefinition Parse(string text, int smooth)
    {
        var at = text.IndexOfAny(['<', '>']);
        if (at <= 0 || at == text.Length - 1 || text.IndexOfAny(['<', '>'], at + 1) >= 0)
        {
            throw new RunTableException($"--end-when '{text}' is not of the form COLUMN<VALUE or COLUMN>VALUE (e.g. \"capacity<1.4\" or \"capacity<80%\").");
        }

        var column = text[..at].Trim();
        var value = text[(at + 1)..].Trim();
        var relative = value.EndsWith('%');
        if (!double.TryParse(relative ? value[..^1] : value, NumberStyles.Float, CultureInfo.InvariantCulture, out var limit) || !double.IsFinite(limit))
        {
            throw new RunTableException($"--end-when '{text}': '{value}' is not a number.");
        }

        if (relative && limit <= 0)
        {
            throw new RunTableException($"--end-when '{text}': a relative limit must be above 0%.");
        }

        return new LifeDefinition(column, text[at] == '<', relative ? limit / 100 : limit, relative, Math.Max(1, smooth));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Column}{(Below ? '<' : '>')}{(Relative ? $"{Limit * 100:G}%" : Limit.ToString("G", CultureInfo.InvariantCulture))}{(Smooth > 1 ? $" (rolling median of {Smooth})" : "")}");

    /// <summary>
    /// Each unit cut at the row where its smoothed indicator first crosses the limit (that row becomes its end of
    /// life). Units that never cross are returned apart as censored (they are still running), and so are units
    /// already past the limit at their first row (their life before it is not in the file).
    /// </summary>
    public LifeCut Apply(RunTable table)
    {
        var column = table.ColumnIndex(Column);
        var failed = new List<RunTable.Unit>();
        var censored = new List<RunTable.Unit>();
        var pastAtStart = new List<RunTable.Unit>();
        foreach (var unit in table.Units)
        {
            switch (EndRow(unit, column))
            {
                case null:
                    censored.Add(unit);
                    break;
                case 0:
                    pastAtStart.Add(unit);
                    break;
                case var row when row == unit.Times.Length - 1:
                    failed.Add(unit);
                    break;
                case { } row:
                    failed.Add(new RunTable.Unit(unit.Id, unit.Times[..(row + 1)], unit.Values[..(row + 1)]));
                    break;
            }
        }

        return new LifeCut(table.With(failed), censored, pastAtStart);
    }

    /// <summary>The limit in the column's own units for this unit, as known at row <paramref name="row"/> (a relative limit needs the unit's first rows).</summary>
    public double LimitFor(RunTable.Unit unit, int column, int row = int.MaxValue) => Relative ? Limit * Reference(unit, column, row) : Limit;

    /// <summary>True when <paramref name="value"/> is past the limit.</summary>
    public bool IsPast(double value, double limit) => Below ? value < limit : value > limit;

    /// <summary>
    /// The median of the unit's first rows (those up to <paramref name="row"/>, so that scoring a row never looks
    /// ahead of it): what a relative limit is a share of, and where a unit's progress starts.
    /// </summary>
    public static double Reference(RunTable.Unit unit, int column, int row = int.MaxValue)
    {
        var first = unit.Values.Take(row >= ReferenceRows ? ReferenceRows : Math.Max(0, row) + 1).Select(v => v[column]).Order().ToArray();
        return first[first.Length / 2];
    }

    private int? EndRow(RunTable.Unit unit, int column)
    {
        var limit = LimitFor(unit, column);
        var smoothed = Smoothing.CentredMedian(unit.Values.Select(v => v[column]).ToArray(), Smooth);
        for (var i = 0; i < smoothed.Length; i++)
        {
            if (IsPast(smoothed[i], limit))
            {
                return i;
            }
        }

        return null;
    }
}

