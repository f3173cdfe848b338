using System.Buffers.Binary;

namespace Telemetry.Ingest.Storage;

/// <summary>
/// An append-only file of line protocol that holds writes while the database is unavailable, and a cursor
/// file with the offset replayed so far. Appends are flushed to disk before they count as stored. Replay
/// reads from the cursor in order; a crash during replay repeats at most one chunk, which is harmless
/// because writes are idempotent. Once everything is replayed both files are removed.
/// <para>The file always holds exactly what <see cref="Append"/> reported stored: an append that fails part
/// way (a full disk, an I/O error) is cut off again before the exception leaves, so a retry of the same
/// lines neither duplicates nor tears them. The cursor names the spill file it belongs to (a fingerprint of
/// its first line), so a cursor left behind by an earlier spill file is ignored rather than skipping lines
/// of a new one.</para>
/// </summary>
internal sealed class SpillFile : IDisposable
{
    /// <summary>How much of the first line identifies a spill file: enough for a device, a seq and a time.</summary>
    private const int FingerprintBytes = 4096;

    private readonly string _path;
    private readonly string _cursorPath;
    private readonly Func<string, Stream> _openAppend;
    private Stream? _append;
    private long _cursor;
    private long _length;
    private ulong _fingerprint;

    public SpillFile(string directory)
        : this(directory, OpenAppend)
    {
    }

    /// <summary>For tests: <paramref name="openAppend"/> opens the stream appends go through, so that a
    /// failing disk can be simulated.</summary>
    internal SpillFile(string directory, Func<string, Stream> openAppend)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, "influx-spill.lp");
        _cursorPath = Path.Combine(directory, "influx-spill.cursor");
        _openAppend = openAppend;
        if (File.Exists(_path))
        {
            _length = DropTornTail(_path);
            _fingerprint = Fingerprint();
            _cursor = ReadCursor();
        }
        else if (File.Exists(_cursorPath))
        {
            // The spill file was removed but its cursor was not (a crash or an error between the deletes).
            File.Delete(_cursorPath);
        }
    }

    /// <summary>Bytes appended but not yet replayed.</summary>
    public long Pending => _length - _cursor;

    public bool HasPending => Pending > 0;

    /// <summary>Appends whole lines and flushes them to disk; on any failure the file is cut back to what it
    /// held before and the exception is rethrown.</summary>
    public void Append(ReadOnlySpan<byte> lines)
    {
        try
        {
            if (_append is null)
            {
                _append = _openAppend(_path);
                if (_append.Length != _length)
                {
                    // Whatever lies beyond the known length was never reported stored: a failed append whose
                    // cut did not succeed, or a spill file that could not be deleted after its replay.
                    _append.SetLength(_length);
                }

                _append.Position = _length;
            }

            _append.Write(lines);
            if (_append is FileStream file)
            {
                file.Flush(flushToDisk: true);
            }
            else
            {
                _append.Flush();
            }
        }
        catch
        {
            Abandon();
            throw;
        }

        if (_length == 0)
        {
            _length = lines.Length;
            _fingerprint = Fingerprint();
        }
        else
        {
            _length += lines.Length;
        }
    }

    /// <summary>
    /// Reads up to <paramref name="maxLines"/> whole lines from the cursor into <paramref name="buffer"/>.
    /// Throws <see cref="InvalidDataException"/> when the next line does not fit in the buffer: skip it with
    /// <see cref="CopyLineAtCursor"/> and <see cref="Advance"/>.
    /// </summary>
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

        if (filled < want)
        {
            // Someone cut the file behind our back: what is gone cannot be replayed, and waiting for it
            // would stall replay for good.
            _length = _cursor + filled;
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
            throw new InvalidDataException($"A line in {_path} at offset {_cursor} is longer than {buffer.Length} bytes.");
        }

        return (end, lines);
    }

    /// <summary>Copies the line at the cursor, newline included, to <paramref name="destination"/> and returns
    /// its length; used to dead-letter a line too long to replay.</summary>
    public long CopyLineAtCursor(Stream destination)
    {
        using var read = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        read.Position = _cursor;
        var buffer = new byte[1 << 16];
        var copied = 0L;
        while (_cursor + copied < _length)
        {
            var n = read.Read(buffer, 0, (int)Math.Min(buffer.Length, _length - _cursor - copied));
            if (n == 0)
            {
                break;
            }

            var newline = Array.IndexOf(buffer, (byte)'\n', 0, n);
            var take = newline < 0 ? n : newline + 1;
            destination.Write(buffer, 0, take);
            copied += take;
            if (newline >= 0)
            {
                break;
            }
        }

        return copied;
    }

    /// <summary>
    /// Records that <paramref name="bytes"/> more have reached the database (or the dead letters); removes the
    /// files when all have. The position is kept in memory even when writing the cursor file fails, so replay
    /// goes on; a restart would then repeat what came after the last cursor written, which is harmless.
    /// </summary>
    public void Advance(long bytes)
    {
        _cursor += bytes;
        if (_cursor >= _length)
        {
            _append?.Dispose();
            _append = null;
            _cursor = 0;
            _length = 0;
            _fingerprint = 0;

            // Cursor first: a spill file without a cursor is replayed again from the start (harmless); a cursor
            // without its spill file could skip lines of the next one, were it not for its fingerprint. So
            // the spill file goes even when the cursor will not, and the first failure is reported after.
            Exception? failure = null;
            foreach (var path in (ReadOnlySpan<string>)[_cursorPath, _path])
            {
                try
                {
                    File.Delete(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    failure ??= e;
                }
            }

            if (failure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            return;
        }

        Span<byte> raw = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(raw, _cursor);
        BinaryPrimitives.WriteUInt64LittleEndian(raw[8..], _fingerprint);
        using var cursor = new FileStream(_cursorPath, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        cursor.Write(raw);
        cursor.Flush(flushToDisk: true);
    }

    public void Dispose() => _append?.Dispose();

    private static Stream OpenAppend(string path)
    {
        // Unbuffered: a FileStream's own buffer would be written again when it is disposed after a failure,
        // putting bytes on disk that were never reported stored. Every append is one whole batch anyway.
        return new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 0);
    }

    /// <summary>Drops the append stream after a failure and cuts the file back to the last length reported
    /// stored. If even that fails, the next <see cref="Append"/> cuts it before writing.</summary>
    private void Abandon()
    {
        try
        {
            _append?.Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            // The stream holds no buffer of its own, so there is nothing to lose here.
        }

        _append = null;
        try
        {
            if (File.Exists(_path) && new FileInfo(_path).Length != _length)
            {
                using var cut = new FileStream(_path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
                cut.SetLength(_length);
                cut.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next append, which cuts the file before it writes.
        }
    }

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

    /// <summary>FNV-1a over the first line (at most <see cref="FingerprintBytes"/>): lines carry a device, a
    /// seq and a time, so two spill files do not start alike.</summary>
    private ulong Fingerprint()
    {
        if (_length == 0)
        {
            return 0;
        }

        using var read = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        var head = new byte[(int)Math.Min(FingerprintBytes, _length)];
        read.ReadExactly(head);
        var newline = Array.IndexOf(head, (byte)'\n');
        var hash = 14695981039346656037UL;
        foreach (var b in newline < 0 ? head : head.AsSpan(0, newline + 1))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    private long ReadCursor()
    {
        if (!File.Exists(_cursorPath))
        {
            return 0;
        }

        var raw = File.ReadAllBytes(_cursorPath);
        if (raw.Length != 16 || BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(8)) != _fingerprint)
        {
            // Another spill file's cursor (or one from before cursors carried a fingerprint): replaying from
            // the start repeats lines, which is harmless; trusting it could skip lines, which is not.
            return 0;
        }

        var offset = BinaryPrimitives.ReadInt64LittleEndian(raw);
        return offset > 0 && offset <= _length && EndsALine(offset) ? offset : 0;
    }

    private bool EndsALine(long offset)
    {
        using var read = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        read.Position = offset - 1;
        return read.ReadByte() == '\n';
    }
}
