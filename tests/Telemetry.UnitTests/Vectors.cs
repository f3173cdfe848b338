using System.Text.Json;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The uplink test vectors under tests/vectors and the outcome the manifest expects of each.</summary>
public static class Vectors
{
    public static readonly string Root = Path.Combine(AppContext.BaseDirectory, "vectors");

    /// <summary>The time the vectors were stamped around (2026-11-23T10:00:00Z), plus one minute.</summary>
    public static long NowMs => Manifest.RootElement.GetProperty("epoch_ms").GetInt64() + 60_000;

    public static JsonDocument Manifest { get; } = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Root, "manifest.json")));

    public static IEnumerable<JsonElement> Entries => Manifest.RootElement.GetProperty("vectors").EnumerateArray();

    public static TheoryData<string> Files(string topic)
    {
        var data = new TheoryData<string>();
        foreach (var entry in Entries.Where(e => e.GetProperty("topic").GetString() == topic))
        {
            data.Add(entry.GetProperty("file").GetString()!);
        }

        return data;
    }

    public static JsonElement Entry(string file) => Entries.Single(e => e.GetProperty("file").GetString() == file);

    public static byte[] Read(string file) => File.ReadAllBytes(Path.Combine(Root, file));
}
