namespace Telemetry.Ingest.Uplink;

/// <summary>A catalogue metric: its wire name (as an interned string and as UTF-8), type and valid range.</summary>
internal sealed class MetricDefinition(string name, MetricType type, double min, double max, string unit)
{
    public string Name { get; } = string.Intern(name);

    public byte[] Utf8Name { get; } = System.Text.Encoding.ASCII.GetBytes(name);

    public MetricType Type { get; } = type;

    public double Min { get; } = min;

    public double Max { get; } = max;

    public string Unit { get; } = unit;
}
