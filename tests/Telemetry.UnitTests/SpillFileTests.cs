using System.Text;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The spill file's bookkeeping under the faults a disk really has: a write that fails part way, a
/// crash mid-append, a cursor that outlived its spill file, a cursor that cannot be written.</summary>
public sealed class SpillFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spill-").FullName;

    private string SpillPath => Path.Combine(_dir, "influx-spill.lp");

    private string CursorPath => Path.Combine(_dir, "influx-spill.cursor");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Append_ThatFailsPartWay_LeavesTheFileExactlyAtTheReportedLength()
    {
        FailingStream? stream = null;
        using var spill = new SpillFile(_dir, path => stream = new FailingStream(path));
        spill.Append("a v=1 1\n"u8);

        // The disk fills in the middle of the next append: half of it reaches the file, then ENOSPC.
        stream!.FailNextWrite = true;
        var e = Assert.Throws<IOException>(() => spill.Append("b v=2 2\nc v=3 3\n"u8));
        Assert.Equal(FailingStream.NoSpace, e.HResult);
        Assert.Equal(8, new FileInfo(SpillPath).Length);
        Assert.Equal(8, spill.Pending);

        // Space is back: the retried lines are there once, whole.
        spill.Append("b v=2 2\nc v=3 3\n"u8);
        spill.Dispose();
        Assert.Equal("a v=1 1\nb v=2 2\nc v=3 3\n", File.ReadAllText(SpillPath));
        Assert.Equal(24, spill.Pending);
    }

    [Fact]
    public void Append_ThatFailsAtFlush_IsCutOffAndTheNextAppendFollowsTheLastGoodOne()
    {
        FailingStream? stream = null;
        using (var spill = new SpillFile(_dir, path => stream = new FailingStream(path)))
        {
            spill.Append("a v=1 1\n"u8);
            stream!.FailNextFlush = true;
            Assert.Throws<IOException>(() => spill.Append("b v=2 2\n"u8));
            Assert.Equal("a v=1 1\n", File.ReadAllText(SpillPath));
            spill.Append("c v=3 3\n"u8);
        }

        using var reopened = new SpillFile(_dir);
        var buffer = new byte[1024];
        var (bytes, lines) = reopened.ReadChunk(buffer, 10);
        Assert.Equal(("a v=1 1\nc v=3 3\n", 2), (Encoding.UTF8.GetString(buffer, 0, bytes), lines));
    }

    [Fact]
    public void TornTail_IsDroppedAndTheNextAppendStartsAtTheLastWholeLine()
    {
        using (var spill = new SpillFile(_dir))
        {
            spill.Append("a v=1 1\nb v=2 2\n"u8);
        }

        // A crash in the middle of an append leaves half a line.
        File.AppendAllText(SpillPath, "c v=");

        using (var reopened = new SpillFile(_dir))
        {
            Assert.Equal(16, reopened.Pending);
            reopened.Append("c v=3 3\n"u8);
        }

        Assert.Equal("a v=1 1\nb v=2 2\nc v=3 3\n", File.ReadAllText(SpillPath));
    }

    [Fact]
    public void CursorOfAnEarlierSpillFile_IsIgnored()
    {
        // The first spill is replayed a line at a time; its cursor is kept aside, as if deleting it had failed.
        byte[] staleCursor;
        using (var first = new SpillFile(_dir))
        {
            first.Append("a v=1 1\nb v=2 2\nc v=3 3\n"u8);
            var (bytes, _) = first.ReadChunk(new byte[1024], 1);
            first.Advance(bytes);
            staleCursor = File.ReadAllBytes(CursorPath);
            first.Advance(16);
            Assert.False(File.Exists(SpillPath));
            Assert.False(File.Exists(CursorPath));
        }

        // A new spill file with lines of the same length, so the stale offset falls on a line boundary.
        using (var second = new SpillFile(_dir))
        {
            second.Append("x v=7 7\ny v=8 8\nz v=9 9\n"u8);
        }

        File.WriteAllBytes(CursorPath, staleCursor);

        using var reopened = new SpillFile(_dir);
        var buffer = new byte[1024];
        var (read, lines) = reopened.ReadChunk(buffer, 10);
        Assert.Equal(("x v=7 7\ny v=8 8\nz v=9 9\n", 3), (Encoding.UTF8.GetString(buffer, 0, read), lines));
    }

    [Fact]
    public void CursorWithoutItsSpillFile_IsRemoved()
    {
        File.WriteAllBytes(CursorPath, new byte[16]);

        using var spill = new SpillFile(_dir);

        Assert.False(File.Exists(CursorPath));
        Assert.False(spill.HasPending);
    }

    [Fact]
    public void CursorThatCannotBeWritten_KeepsThePositionInMemory()
    {
        using var spill = new SpillFile(_dir);
        spill.Append("a v=1 1\nb v=2 2\nc v=3 3\n"u8);

        // A directory where the cursor file should be: the write fails, for root as well.
        Directory.CreateDirectory(CursorPath);
        var buffer = new byte[1024];
        var (bytes, _) = spill.ReadChunk(buffer, 1);
        var e = Assert.ThrowsAny<Exception>(() => spill.Advance(bytes));
        Assert.True(e is IOException or UnauthorizedAccessException, e.ToString());

        var (next, lines) = spill.ReadChunk(buffer, 10);
        Assert.Equal(("b v=2 2\nc v=3 3\n", 2), (Encoding.UTF8.GetString(buffer, 0, next), lines));
        Assert.Equal(16, spill.Pending);
    }

    [Fact]
    public void LineLongerThanTheBuffer_CanBeCopiedOutAndSkipped()
    {
        using var spill = new SpillFile(_dir);
        var longLine = "long v=\"" + new string('x', 100) + "\" 1\n";
        spill.Append(Encoding.UTF8.GetBytes(longLine + "b v=2 2\n"));

        var buffer = new byte[32];
        Assert.Throws<InvalidDataException>(() => spill.ReadChunk(buffer, 10));
        using var copy = new MemoryStream();
        var length = spill.CopyLineAtCursor(copy);
        Assert.Equal(longLine, Encoding.UTF8.GetString(copy.ToArray()));
        Assert.Equal(longLine.Length, length);
        spill.Advance(length);

        var (bytes, lines) = spill.ReadChunk(buffer, 10);
        Assert.Equal(("b v=2 2\n", 1), (Encoding.UTF8.GetString(buffer, 0, bytes), lines));
    }

    /// <summary>A file stream whose next write stores half its bytes and then fails with ENOSPC, or whose next
    /// flush fails after the bytes were written, as a full or failing disk does.</summary>
    private sealed class FailingStream(string path) : Stream
    {
        public const int NoSpace = 28;

        private readonly FileStream _inner = new(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);

        public bool FailNextWrite { get; set; }

        public bool FailNextFlush { get; set; }

        public override bool CanRead => false;

        public override bool CanSeek => true;

        public override bool CanWrite => true;

        public override long Length => _inner.Length;

        public override long Position { get => _inner.Position; set => _inner.Position = value; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (FailNextWrite)
            {
                FailNextWrite = false;
                _inner.Write(buffer[..(buffer.Length / 2)]);
                throw new IOException("No space left on device", NoSpace);
            }

            _inner.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
            if (FailNextFlush)
            {
                FailNextFlush = false;
                throw new IOException("Input/output error", 5);
            }

            _inner.Flush(flushToDisk: true);
        }

        public override void SetLength(long value) => _inner.SetLength(value);

        public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
