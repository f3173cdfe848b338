using System.Text;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// Lines the database refused as invalid, kept with the server's reason in <c>deadletter/YYYY-MM-DD.lp</c>
/// under the data directory: a comment line with the time and the reason, then the line itself, so the file
/// can be inspected, fixed and loaded with <c>influx -import</c>.
/// </summary>
internal sealed class DeadLetters(string directory, TimeProvider time)
{
    private readonly Lock _gate = new();

    public string Directory { get; } = Path.Combine(directory, "deadletter");

    public void Add(ReadOnlySpan<byte> line, string reason)
    {
        var now = time.GetUtcNow();
        var header = Encoding.UTF8.GetBytes($"# {now:O} {reason.ReplaceLineEndings(" ")}\n");
        lock (_gate)
        {
            System.IO.Directory.CreateDirectory(Directory);
            using var file = new FileStream(Path.Combine(Directory, $"{now:yyyy-MM-dd}.lp"), FileMode.Append, FileAccess.Write, FileShare.Read);
            file.Write(header);
            file.Write(line);
            if (line.Length == 0 || line[^1] != (byte)'\n')
            {
                file.WriteByte((byte)'\n');
            }

            file.Flush(flushToDisk: true);
        }
    }
}
