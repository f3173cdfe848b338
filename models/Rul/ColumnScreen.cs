namespace Telemetry.Models.Rul;

/// <summary>Scores every column of a table for trendability (see <see cref="ColumnScore"/>); nothing is named after any sensor.</summary>
public static class ColumnScreen
{
    public const double NearConstantRelativeSpread = 1e-4;

    public static IReadOnlyList<ColumnScore> Score(RunTable table)
    {
        var scores = new List<ColumnScore>(table.Columns.Length);
        for (var c = 0; c < table.Columns.Length; c++)
        {
            double sum = 0, sumSq = 0;
            long n = 0;
            double correlations = 0;
            var counted = 0;
            foreach (var unit in table.Units)
            {
                foreach (var row in unit.Values)
                {
                    sum += row[c];
                    sumSq += row[c] * row[c];
                    n++;
                }

                if (unit.Times.Length >= 3)
                {
                    correlations += Correlation(unit, c);
                    counted++;
                }
            }

            var mean = sum / n;
            var spread = Math.Sqrt(Math.Max(0, (sumSq / n) - (mean * mean)));
            var nearConstant = !(spread > NearConstantRelativeSpread * Math.Max(Math.Abs(mean), 1e-12) && spread > 0);
            var trend = counted == 0 || nearConstant ? 0 : correlations / counted;
            scores.Add(new ColumnScore(c, table.Columns[c], Math.Abs(trend), nearConstant) { Direction = trend < 0 ? -1 : 1 });
        }

        return scores;
    }

    /// <summary>The column that trends most consistently with age: the best single health indicator.</summary>
    public static ColumnScore Best(IReadOnlyList<ColumnScore> scores) =>
        scores.Where(s => !s.NearConstant).MaxBy(s => s.Trendability) ?? throw new RunTableException("Every sensor column is constant or nearly so; there is nothing to learn from.");

    /// <summary>
    /// Pearson correlation with time, within one unit, of the column's centred moving mean over a tenth of the unit's
    /// rows (at most 15): a drift smaller than the row-to-row noise still shows, noise alone still averages out. 0 when
    /// either does not vary.
    /// </summary>
    private static double Correlation(RunTable.Unit unit, int column)
    {
        var n = unit.Times.Length;
        var half = Math.Clamp(n / 20, 0, 7);
        var smoothed = new double[n];
        for (var i = 0; i < n; i++)
        {
            var (from, to) = (Math.Max(0, i - half), Math.Min(n - 1, i + half));
            double sum = 0;
            for (var j = from; j <= to; j++)
            {
                sum += unit.Values[j][column];
            }

            smoothed[i] = sum / (to - from + 1);
        }

        double st = 0, sx = 0;
        for (var i = 0; i < n; i++)
        {
            st += unit.Times[i];
            sx += smoothed[i];
        }

        var (mt, mx) = (st / n, sx / n);
        double stt = 0, sxx = 0, stx = 0;
        for (var i = 0; i < n; i++)
        {
            var (dt, dx) = (unit.Times[i] - mt, smoothed[i] - mx);
            stt += dt * dt;
            sxx += dx * dx;
            stx += dt * dx;
        }

        return stt > 0 && sxx > 0 ? stx / Math.Sqrt(stt * sxx) : 0;
    }
}
