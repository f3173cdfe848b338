namespace Telemetry.Models.Rul;

/// <summary>
/// Generic window features for remaining-life regression, computed the same way for training and scoring:
/// for every kept column, its value and its mean, spread (standard deviation) and slope (least squares per
/// row) over the unit's last <see cref="Window"/> rows, plus the unit's age (time since its first row).
/// Nothing about any particular sensor is assumed. Columns that are constant or nearly so (relative spread
/// below 1e-4 over the whole file) are dropped, because they cannot inform a model and only add noise.
/// </summary>
public sealed class WindowFeatures
{
    public const double NearConstantRelativeSpread = 1e-4;

    public WindowFeatures(string[] columns, int[] kept, int window)
    {
        Columns = columns;
        Kept = kept;
        Window = window;
    }

    /// <summary>All numeric columns of the training file, in order (the file to score must have them too).</summary>
    public string[] Columns { get; }

    /// <summary>Indexes into <see cref="Columns"/> of the columns used.</summary>
    public int[] Kept { get; }

    public int Window { get; }

    public int Count => (Kept.Length * 4) + 1;

    /// <summary>Names of the features, in vector order (for reports and explanations).</summary>
    public IEnumerable<string> Names => Kept.SelectMany(c => new[] { Columns[c], $"{Columns[c]}_mean", $"{Columns[c]}_std", $"{Columns[c]}_slope" }).Append("age");

    /// <summary>Chooses the columns worth keeping from a training table.</summary>
    public static WindowFeatures Fit(RunTable table, int window)
    {
        var kept = new List<int>();
        for (var c = 0; c < table.Columns.Length; c++)
        {
            double sum = 0, sumSq = 0;
            long n = 0;
            foreach (var unit in table.Units)
            {
                foreach (var row in unit.Values)
                {
                    sum += row[c];
                    sumSq += row[c] * row[c];
                    n++;
                }
            }

            var mean = sum / n;
            var spread = Math.Sqrt(Math.Max(0, (sumSq / n) - (mean * mean)));
            if (spread > NearConstantRelativeSpread * Math.Max(Math.Abs(mean), 1e-12) && spread > 0)
            {
                kept.Add(c);
            }
        }

        if (kept.Count == 0)
        {
            throw new RunTableException("Every sensor column is constant or nearly so; there is nothing to learn from.");
        }

        return new WindowFeatures(table.Columns, [.. kept], window);
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

            var mean = sum / m;
            features[f++] = (float)unit.Values[row][source];
            features[f++] = (float)mean;
            features[f++] = (float)Math.Sqrt(Math.Max(0, (sumSq / m) - (mean * mean)));
            features[f++] = denominator > 0 ? (float)(((m * sumJx) - (sj * sum)) / denominator) : 0f;
        }

        features[f] = (float)(unit.Times[row] - unit.Times[0]);
    }
}
