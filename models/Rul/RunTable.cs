using System.Globalization;

namespace Telemetry.Models.Rul;

/// <summary>A CSV that cannot be used, with a message that says where and why.</summary>
public sealed class RunTableException(string message) : Exception(message);

/// <summary>
/// A run-to-failure history read from CSV: a header row, a unit column, a time column, and every other
/// column numeric (sensors and settings). Rows are grouped by unit and sorted by time; the last row of a unit
/// is its failure. Comma, semicolon and tab separators are recognised from the header line.
/// </summary>
public sealed class RunTable
{
    private RunTable(string[] columns, List<Unit> units, int rows)
    {
        Columns = columns;
        Units = units;
        RowCount = rows;
    }

    /// <summary>Names of the numeric columns (all but unit and time), in file order.</summary>
    public string[] Columns { get; }

    public IReadOnlyList<Unit> Units { get; }

    public int RowCount { get; }

    /// <summary>One unit's rows, in time order: <c>Times[i]</c> and <c>Values[i][column]</c>.</summary>
    public sealed record Unit(string Id, double[] Times, double[][] Values);

    public static RunTable Read(string path, string unitColumn, string timeColumn, bool requireTwoRows = true)
    {
        if (!File.Exists(path))
        {
            throw new RunTableException($"{path}: no such file.");
        }

        using var reader = new StreamReader(path);
        var headerLine = reader.ReadLine() ?? throw new RunTableException($"{path}: the file is empty; it needs a header row.");
        var separator = headerLine.Contains('\t', StringComparison.Ordinal) ? '\t' : headerLine.Contains(';', StringComparison.Ordinal) && !headerLine.Contains(',', StringComparison.Ordinal) ? ';' : ',';
        var header = headerLine.Split(separator).Select(h => h.Trim().Trim('"')).ToArray();
        var unitIndex = Array.IndexOf(header, unitColumn);
        var timeIndex = Array.IndexOf(header, timeColumn);
        if (unitIndex < 0 || timeIndex < 0)
        {
            var missing = unitIndex < 0 ? unitColumn : timeColumn;
            throw new RunTableException($"{path}: no column named '{missing}'. The header has: {string.Join(", ", header)}.");
        }

        var numeric = Enumerable.Range(0, header.Length).Where(i => i != unitIndex && i != timeIndex).ToArray();
        var byUnit = new Dictionary<string, List<(double Time, double[] Values)>>(StringComparer.Ordinal);
        var order = new List<string>();
        var lineNumber = 1;
        var rows = 0;
        var fields = new string[header.Length];
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var count = Split(line, separator, fields);
            if (count != header.Length)
            {
                throw new RunTableException($"{path}, line {lineNumber}: {count} fields, but the header has {header.Length}.");
            }

            var unit = fields[unitIndex].Trim().Trim('"');
            var time = Number(fields[timeIndex], path, lineNumber, timeColumn);
            var values = new double[numeric.Length];
            for (var c = 0; c < numeric.Length; c++)
            {
                values[c] = Number(fields[numeric[c]], path, lineNumber, header[numeric[c]]);
            }

            if (!byUnit.TryGetValue(unit, out var list))
            {
                byUnit[unit] = list = [];
                order.Add(unit);
            }

            list.Add((time, values));
            rows++;
        }

        if (rows == 0)
        {
            throw new RunTableException($"{path}: no data rows after the header.");
        }

        var units = new List<Unit>(order.Count);
        foreach (var id in order)
        {
            var list = byUnit[id];
            if (requireTwoRows && list.Count < 2)
            {
                throw new RunTableException($"{path}: unit '{id}' has only one row; a run-to-failure history needs at least two per unit.");
            }

            list.Sort((a, b) => a.Time.CompareTo(b.Time));
            units.Add(new Unit(id, [.. list.Select(r => r.Time)], [.. list.Select(r => r.Values)]));
        }

        return new RunTable([.. numeric.Select(i => header[i])], units, rows);
    }

    private static int Split(string line, char separator, string[] fields)
    {
        var count = 0;
        var start = 0;
        for (var i = 0; i <= line.Length; i++)
        {
            if (i == line.Length || line[i] == separator)
            {
                if (count < fields.Length)
                {
                    fields[count] = line[start..i];
                }

                count++;
                start = i + 1;
            }
        }

        return count;
    }

    private static double Number(string text, string path, int line, string column)
    {
        var trimmed = text.AsSpan().Trim().Trim('"');
        if (!double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw new RunTableException($"{path}, line {line}, column '{column}': '{trimmed}' is not a number.");
        }

        return value;
    }
}
