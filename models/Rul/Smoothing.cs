namespace Telemetry.Models.Rul;

/// <summary>Rolling medians for health indicators: centred where the whole history is known (labels), trailing where it is not (scoring).</summary>
public static class Smoothing
{
    /// <summary>The median of the <paramref name="width"/> rows centred on each row (fewer at the ends; an even width reaches one row further ahead than back).</summary>
    public static double[] CentredMedian(double[] values, int width)
    {
        if (width <= 1)
        {
            return values;
        }

        var result = new double[values.Length];
        var (back, ahead) = ((width - 1) / 2, width / 2);
        var window = new List<double>(width);
        for (var i = 0; i < values.Length; i++)
        {
            window.Clear();
            for (var j = Math.Max(0, i - back); j <= Math.Min(values.Length - 1, i + ahead); j++)
            {
                window.Add(values[j]);
            }

            result[i] = Median(window);
        }

        return result;
    }

    /// <summary>The median of the <paramref name="width"/> rows ending at <paramref name="row"/> (fewer at the start).</summary>
    public static double TrailingMedian(RunTable.Unit unit, int column, int row, int width)
    {
        var window = new List<double>(width);
        for (var j = Math.Max(0, row - width + 1); j <= row; j++)
        {
            window.Add(unit.Values[j][column]);
        }

        return Median(window);
    }

    private static double Median(List<double> window)
    {
        window.Sort();
        var n = window.Count;
        return n % 2 == 1 ? window[n / 2] : (window[(n / 2) - 1] + window[n / 2]) / 2;
    }
}
