using System.Text.Json;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>Reads Parquet with a reader other than the one that wrote it: hyparquet, through Node.js.</summary>
public static class IndependentParquetReader
{
    /// <summary>Runs tests/tools/parquet-reader (installed by scripts/test.sh) on the bytes.</summary>
    public static JsonElement Read(byte[] bytes)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Telemetry.sln")))
        {
            dir = dir.Parent;
        }

        var reader = Path.Combine(dir!.FullName, "tests", "tools", "parquet-reader", "read.mjs");
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, bytes);
            using var node = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("node", [reader, file])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = node.StandardOutput.ReadToEnd();
            var error = node.StandardError.ReadToEnd();
            node.WaitForExit();
            Assert.True(node.ExitCode == 0, $"the Parquet reader failed (run scripts/test.sh to install it): {error}");
            return JsonDocument.Parse(output).RootElement;
        }
        finally
        {
            File.Delete(file);
        }
    }
}
