using System.Text;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// Lines the database refused as invalid, kept with the server's reason in <c>deadletter/YYYY-MM-DD.lp</c>
/// under the data directory: a comment line with the time and the reason, then the line itself, so the file
/// can be inspected, fixed and loaded with <c>influx -import</c>. Each entry is flushed to disk before
/// <c>Add</c> returns; when it throws, the line must not be treated as handled.
/// </summary>
internal sealed class DeadLetters(string directory, TimeProvider time)
{
    private readonly Lock _gate = new();

    public string Directory { get; } = Path.Combine(directory, "deadletter");

    public void Add(ReadOnlySpan<byte> line, string reason)
    {
        lock (_gate)
        {
            using var file = Open(reason);
            file.Write(line);
            if (line.Length == 0 || line[^1] != (byte)'\n')
            {
                file.WriteByte((byte)'\n');
            }

            file.Flush(flushToDisk: true);
        }
    }

    /// <summary>Dead-letters a line that <paramref name="copyLine"/> streams in (one too long to hold in
    /// memory), newline included; returns what <paramref name="copyLine"/> returns, the line's length.</summary>
    public long Add(Func<Stream, long> copyLine, string reason)
    {
        lock (_gate)
        {
            using var file = Open(reason);
            var length = copyLine(file);
            file.Flush(flushToDisk: true);
            return length;
        }
    }

    private FileStream Open(string reason)
    {
        var now = time.GetUtcNow();
        System.IO.Directory.CreateDirectory(Directory);
        var file = new FileStream(Path.Combine(Directory, $"{now:yyyy-MM-dd}.lp"), FileMode.Append, FileAccess.Write, FileShare.Read);
        file.Write(Encoding.UTF8.GetBytes($"# {now:O} {reason.ReplaceLineEndings(" ")}\n"));
        return file;
    }
}
