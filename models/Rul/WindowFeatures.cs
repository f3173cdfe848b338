namespace Telemetry.Models.Rul;

/// <summary>
/// Generic window features for remaining-life regression, computed the same way for training and scoring:
/// for every kept column, its value (a trailing mean of <see cref="Smooth"/> rows) and its mean, spread (standard
/// deviation) and slope (least squares per row) over the unit's last <see cref="Window"/> rows, plus the unit's age
/// (time since its first row). With <see cref="NormalizeFirst"/> above 0, value and mean are taken relative to the
/// mean of the unit's own first rows, so that units that start at different levels (a cell at 1.86 Ah and one at
/// 2.03 Ah) are compared by how far each has moved. Nothing about any particular sensor is assumed: columns are
/// kept by <see cref="ColumnScreen"/>, dropping constant and near-constant ones and, above a trendability threshold,
/// those whose movement is not consistent with age across units (noise, operating settings).
/// </summary>
public sealed class WindowFeatures
{
    public WindowFeatures(string[] columns, int[] kept, int window, int normalizeFirst = 0, int smooth = 1)
    {
        Columns = columns;
        Kept = kept;
        Window = window;
        NormalizeFirst = normalizeFirst;
        Smooth = Math.Max(1, smooth);
    }

    /// <summary>All numeric columns of the training file, in order (the file to score must have them too).</summary>
    public string[] Columns { get; }

    /// <summary>Indexes into <see cref="Columns"/> of the columns used.</summary>
    public int[] Kept { get; }

    public int Window { get; }

    /// <summary>Rows at the start of each unit whose mean is its own baseline; 0 for raw values.</summary>
    public int NormalizeFirst { get; }

    /// <summary>Rows in the trailing mean that stands for a column's current value; 1 for the raw value.</summary>
    public int Smooth { get; }

    public int Count => (Kept.Length * 4) + 1;

    /// <summary>Names of the features, in vector order (for reports and explanations).</summary>
    public IEnumerable<string> Names => Kept.SelectMany(c => new[] { Columns[c], $"{Columns[c]}_mean", $"{Columns[c]}_std", $"{Columns[c]}_slope" }).Append("age");

    /// <summary>
    /// Chooses the columns worth keeping from a training table: not near-constant, and trending with age at least
    /// <paramref name="minTrendability"/> (the best column is always kept).
    /// </summary>
    public static WindowFeatures Fit(RunTable table, int window, double minTrendability = 0, int normalizeFirst = 0, int smooth = 1) =>
        Fit(table, ColumnScreen.Score(table), window, minTrendability, normalizeFirst, smooth);

    public static WindowFeatures Fit(RunTable table, IReadOnlyList<ColumnScore> scores, int window, double minTrendability = 0, int normalizeFirst = 0, int smooth = 1)
    {
        var best = ColumnScreen.Best(scores);
        var kept = scores.Where(s => !s.NearConstant && (s.Trendability >= minTrendability || s.Column == best.Column)).Select(s => s.Column).ToArray();
        return new WindowFeatures(table.Columns, kept, window, normalizeFirst, smooth);
    }

    /// <summary>Maps the columns of a table to score onto the training columns, by name.</summary>
    public int[] MapColumns(RunTable table)
    {
        var map = new int[Columns.Length];
        for (var c = 0; c < Columns.Length; c++)
        {
            map[c] = Array.IndexOf(table.Columns, Columns[c]);
            if (map[c] < 0 && Kept.Contains(c))
            {
                throw new RunTableException($"The model was trained with a column '{Columns[c]}' that this file does not have.");
            }
        }

        return map;
    }

    /// <summary>Writes the features of row <paramref name="row"/> of <paramref name="unit"/> into <paramref name="features"/>.</summary>
    public void Compute(RunTable.Unit unit, int row, int[] columnMap, Span<float> features)
    {
        var start = Math.Max(0, row - Window + 1);
        var m = row - start + 1;
        // Sums of the window position j = 0..m-1, for the least-squares slope.
        var sj = m * (m - 1) / 2.0;
        var sjj = (m - 1) * m * ((2 * m) - 1) / 6.0;
        var denominator = (m * sjj) - (sj * sj);
        var smoothFrom = Math.Max(0, row - Smooth + 1);
        var f = 0;
        foreach (var c in Kept)
        {
            var source = columnMap[c];
            double sum = 0, sumSq = 0, sumJx = 0;
            for (var j = 0; j < m; j++)
            {
                var x = unit.Values[start + j][source];
                sum += x;
                sumSq += x * x;
                sumJx += j * x;
            }

            double current = 0;
            for (var j = smoothFrom; j <= row; j++)
            {
                current += unit.Values[j][source];
            }

            current /= row - smoothFrom + 1;
            var baseline = NormalizeFirst > 0 ? Baseline(unit, source, Math.Min(NormalizeFirst, row + 1)) : 0;
            var mean = sum / m;
            features[f++] = (float)(current - baseline);
            features[f++] = (float)(mean - baseline);
            features[f++] = (float)Math.Sqrt(Math.Max(0, (sumSq / m) - (mean * mean)));
            features[f++] = denominator > 0 ? (float)(((m * sumJx) - (sj * sum)) / denominator) : 0f;
        }

        features[f] = (float)(unit.Times[row] - unit.Times[0]);
    }

    private static double Baseline(RunTable.Unit unit, int column, int rows)
    {
        double sum = 0;
        for (var j = 0; j < rows; j++)
        {
            sum += unit.Values[j][column];
        }

        return sum / rows;
    }
}
