using System.Globalization;

namespace Telemetry.Models.Rul;

/// <summary>A CSV that cannot be used, with a message that says where and why.</summary>
public sealed class RunTableException(string message) : Exception(message);

/// <summary>
/// A run-to-failure history read from CSV: a header row, a unit column, a time column, and every other
/// column numeric (sensors and settings). Rows are grouped by unit and sorted by time; the last row of a unit
/// is its failure unless a <see cref="LifeDefinition"/> says otherwise. Comma, semicolon and tab separators are
/// recognised from the header line. Several files with the same header may be read as one table; without a unit
/// column, each file is one unit named after the file.
/// </summary>
public sealed class RunTable
{
    internal RunTable(string[] columns, List<Unit> units, int rows)
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

    /// <summary>
    /// Reads every file in <paramref name="paths"/> (a directory stands for the <c>*.csv</c> files in it, in name
    /// order) into one table. With a null <paramref name="unitColumn"/>, each file is one unit, named after the file.
    /// </summary>
    public static RunTable Read(IReadOnlyList<string> paths, string? unitColumn, string timeColumn, bool requireTwoRows = true)
    {
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*.csv").Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToList();
        if (files.Count == 0)
        {
            throw new RunTableException($"{string.Join(", ", paths)}: no CSV files.");
        }

        var tables = files.Select(f => Read(f, unitColumn, timeColumn, requireTwoRows)).ToList();
        var first = tables[0];
        for (var i = 1; i < tables.Count; i++)
        {
            if (!tables[i].Columns.SequenceEqual(first.Columns, StringComparer.Ordinal))
            {
                throw new RunTableException($"{files[i]}: its columns ({string.Join(", ", tables[i].Columns)}) are not those of {files[0]} ({string.Join(", ", first.Columns)}).");
            }
        }

        var units = tables.SelectMany(t => t.Units).ToList();
        if (units.GroupBy(u => u.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new RunTableException($"unit '{twice.Key}' appears in more than one file; give each file its own units, or leave out --unit to name each file's unit after the file.");
        }

        return new RunTable(first.Columns, units, tables.Sum(t => t.RowCount));
    }

    /// <summary>Reads one file; with a null <paramref name="unitColumn"/> the whole file is one unit, named after the file.</summary>
    public static RunTable Read(string path, string? unitColumn, string timeColumn, bool requireTwoRows = true)
    {
        if (!File.Exists(path))
        {
            throw new RunTableException($"{path}: no such file.");
        }

        using var reader = new StreamReader(path);
        var headerLine = reader.ReadLine() ?? throw new RunTableException($"{path}: the file is empty; it needs a header row.");
        var separator = headerLine.Contains('\t', StringComparison.Ordinal) ? '\t' : headerLine.Contains(';', StringComparison.Ordinal) && !headerLine.Contains(',', StringComparison.Ordinal) ? ';' : ',';
        var header = headerLine.Split(separator).Select(h => h.Trim().Trim('"')).ToArray();
        if (header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new RunTableException($"{path}: the header names column '{twice.Key}' {twice.Count()} times; each column needs its own name.");
        }

        if (unitColumn is not null && unitColumn == timeColumn)
        {
            throw new RunTableException($"--unit and --time both name column '{timeColumn}'; the unit and the time are different columns.");
        }

        var unitIndex = unitColumn is null ? -1 : Array.IndexOf(header, unitColumn);
        var timeIndex = Array.IndexOf(header, timeColumn);
        if ((unitColumn is not null && unitIndex < 0) || timeIndex < 0)
        {
            var missing = timeIndex < 0 ? timeColumn : unitColumn;
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

            var unit = unitIndex < 0 ? Path.GetFileNameWithoutExtension(path) : fields[unitIndex].Trim().Trim('"');
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
            for (var i = 1; i < list.Count; i++)
            {
                if (list[i].Time == list[i - 1].Time)
                {
                    throw new RunTableException(string.Create(CultureInfo.InvariantCulture, $"{path}: unit '{id}' has two rows at {timeColumn} {list[i].Time}; each unit needs one row per time step."));
                }
            }

            units.Add(new Unit(id, [.. list.Select(r => r.Time)], [.. list.Select(r => r.Values)]));
        }

        return new RunTable([.. numeric.Select(i => header[i])], units, rows);
    }

    /// <summary>This table's columns with other units (cut or chosen from these).</summary>
    internal RunTable With(IEnumerable<Unit> units)
    {
        var list = units.ToList();
        return new RunTable(Columns, list, list.Sum(u => u.Times.Length));
    }

    /// <summary>The index of a column by name, or an error that lists the columns there are.</summary>
    public int ColumnIndex(string name)
    {
        var index = Array.IndexOf(Columns, name);
        return index >= 0 ? index : throw new RunTableException($"no numeric column named '{name}'. The columns are: {string.Join(", ", Columns)}.");
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

    /// <summary>The largest magnitude a value may have.</summary>
    private const double MaxMagnitude = 1e100;

    private static double Number(string text, string path, int line, string column)
    {
        var trimmed = text.AsSpan().Trim().Trim('"');
        if (!double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw new RunTableException($"{path}, line {line}, column '{column}': '{trimmed}' is not a number.");
        }

        // Differences, sums of squares and stretched lives of such values overflow to infinity; no sensor or clock reads them.
        if (Math.Abs(value) > MaxMagnitude)
        {
            throw new RunTableException($"{path}, line {line}, column '{column}': '{trimmed}' is beyond ±1e100, more than any reading or time this tool can compute with.");
        }

        return value;
    }
}
