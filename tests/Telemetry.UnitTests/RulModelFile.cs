using System.IO.Compression;
using System.Text.Json.Nodes;

namespace Telemetry.UnitTests;

/// <summary>Edits a train-rul model file's <c>telemetry-rul.json</c> in place, as an attacker or a broken disk would.</summary>
internal static class RulModelFile
{
    public static void Rewrite(string path, Action<JsonNode> change)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        var entry = zip.GetEntry("telemetry-rul.json")!;
        JsonNode root;
        using (var stream = entry.Open())
        {
            root = JsonNode.Parse(stream)!;
        }

        change(root);
        entry.Delete();
        using var writer = new StreamWriter(zip.CreateEntry("telemetry-rul.json").Open());
        writer.Write(root.ToJsonString());
    }
}
