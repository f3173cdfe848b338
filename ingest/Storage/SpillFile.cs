using System.Buffers.Binary;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// An append-only file of line protocol that holds writes while the database is unavailable, and a cursor
/// file with the offset replayed so far. Appends are flushed to disk before they count as stored. Replay
/// reads from the cursor in order; a crash during replay repeats at most one chunk, which is harmless
/// because writes are idempotent. Once everything is replayed both files are removed.
/// </summary>
internal sealed class SpillFile : IDisposable
{
    private readonly string _path;
    private readonly string _cursorPath;
    private FileStream? _append;
    private long _cursor;
    private long _length;

    public SpillFile(string directory)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, "influx-spill.lp");
        _cursorPath = Path.Combine(directory, "influx-spill.cursor");
        if (File.Exists(_path))
        {
            _length = DropTornTail(_path);
            _cursor = ReadCursor();
        }
    }

    /// <summary>Bytes appended but not yet replayed.</summary>
    public long Pending => _length - _cursor;

    public bool HasPending => Pending > 0;

    public void Append(ReadOnlySpan<byte> lines)
    {
        _append ??= new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);
        _append.Write(lines);
        _append.Flush(flushToDisk: true);
        _length += lines.Length;
    }

    /// <summary>Reads up to <paramref name="maxLines"/> whole lines from the cursor into <paramref name="buffer"/>.</summary>
    public (int Bytes, int Lines) ReadChunk(byte[] buffer, int maxLines)
    {
        using var read = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        read.Position = _cursor;
        var filled = 0;
        var want = (int)Math.Min(buffer.Length, Pending);
        while (filled < want)
        {
            var n = read.Read(buffer, filled, want - filled);
            if (n == 0)
            {
                break;
            }

            filled += n;
        }

        var lines = 0;
        var end = 0;
        for (var i = 0; i < filled && lines < maxLines; i++)
        {
            if (buffer[i] == (byte)'\n')
            {
                lines++;
                end = i + 1;
            }
        }

        if (lines == 0 && filled > 0)
        {
            throw new InvalidDataException($"A line in {_path} is longer than {buffer.Length} bytes.");
        }

        return (end, lines);
    }

    /// <summary>Records that <paramref name="bytes"/> more have reached the database; removes the files when all have.</summary>
    public void Advance(int bytes)
    {
        _cursor += bytes;
        if (_cursor >= _length)
        {
            _append?.Dispose();
            _append = null;
            File.Delete(_path);
            File.Delete(_cursorPath);
            _cursor = 0;
            _length = 0;
            return;
        }

        Span<byte> raw = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(raw, _cursor);
        using var cursor = new FileStream(_cursorPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1);
        cursor.Write(raw);
        cursor.Flush(flushToDisk: true);
    }

    public void Dispose() => _append?.Dispose();

    /// <summary>A crash in the middle of an append can leave a partial last line. It was never reported as
    /// stored (that happens after the flush), so it is cut off; its message is redelivered.</summary>
    private static long DropTornTail(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1);
        var end = file.Length;
        var probe = new byte[1];
        while (end > 0)
        {
            file.Position = end - 1;
            file.ReadExactly(probe);
            if (probe[0] == (byte)'\n')
            {
                break;
            }

            end--;
        }

        if (end != file.Length)
        {
            file.SetLength(end);
            file.Flush(flushToDisk: true);
        }

        return end;
    }

    private long ReadCursor()
    {
        if (!File.Exists(_cursorPath))
        {
            return 0;
        }

        var raw = File.ReadAllBytes(_cursorPath);
        return raw.Length == 8 ? Math.Clamp(BinaryPrimitives.ReadInt64LittleEndian(raw), 0, _length) : 0;
    }
}
