using System.Text;
using Telemetry.Ingest.Storage;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class LineProtocolTests
{
    [Fact]
    public void EscapesEachPartAsInfluxDbRequires()
    {
        var lines = new LineProtocol();
        lines.Measurement("my measure,ment").Tag("tag key", "a,b=c d").Tag("empty", "").Tag("nl", "x\ny")
            .Field("f=1", 1.5).Field("i", 42L).Field("s", "say \"hi\" \\o/").End(1795428000123);

        Assert.Equal(
            "my\\ measure\\,ment,tag\\ key=a\\,b\\=c\\ d,nl=x\\ y f\\=1=1.5,i=42i,s=\"say \\\"hi\\\" \\\\o/\" 1795428000123\n",
            Encoding.UTF8.GetString(lines.Written.Span));
        Assert.Equal(1, lines.LineCount);
    }

    [Fact]
    public void FieldKeys_AreEscapedTheSameWhenRemembered_AndPastTheCachesBound()
    {
        var lines = new LineProtocol();
        var names = Enumerable.Range(0, 1100).Select(i => $"k {i},x=").ToArray();
        foreach (var round in (int[])[0, 1])
        {
            foreach (var name in names)
            {
                lines.Measurement("m").Field(name, (double)round).Field("plain", 2L).End(1);
            }
        }

        var text = Encoding.UTF8.GetString(lines.Written.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2200, text.Length);
        Assert.Equal("m k\\ 0\\,x\\==0,plain=2i 1", text[0]);
        Assert.Equal("m k\\ 1099\\,x\\==1,plain=2i 1", text[^1]);
    }

    [Theory]
    [InlineData(81.0, "81")]
    [InlineData(0.1, "0.1")]
    [InlineData(-12.25, "-12.25")]
    [InlineData(1e-5, "1E-05")]
    public void FloatsRoundTripAndNeverGetTheIntegerSuffix(double value, string expected)
    {
        var lines = new LineProtocol();
        lines.Measurement("m").Field("v", value).End(1);

        Assert.Equal($"m v={expected} 1\n", Encoding.UTF8.GetString(lines.Written.Span));
    }

    /// <summary>
    /// The short-decimal path writes exactly what the general formatter writes, wherever it applies, and the value
    /// reads back as the same double: seeded values with 0 to 6 decimals over many magnitudes, both signs, plus
    /// edges (negative zero, 10^12, values one ulp away from a short decimal).
    /// </summary>
    [Fact]
    public void ShortDecimals_AreWrittenAsTheGeneralFormatterWritesThem()
    {
        var random = new Random(7);
        // Magnitudes up to 10^17 too: from 10^15 the general formatter writes an exponent, so a looser bound on the
        // short path would show here.
        var values = new List<double> { 0.0, -0.0, 1e12, 999_999_999_999.999, 1e15, 1e16, 123_456_789_012_345_678, 1e-3, 5e-4, 0.3, 2.675, 1.005, 0.1 + 0.2 };
        for (var i = 0; i < 200_000; i++)
        {
            var decimals = random.Next(0, 7);
            var magnitude = Math.Pow(10, random.Next(0, 18));
            var value = Math.Round(random.NextDouble() * magnitude, decimals) * (random.Next(2) == 0 ? 1 : -1);
            values.Add(value);
            values.Add(Math.BitIncrement(value));
        }

        var fast = new byte[32];
        var general = new byte[32];
        var applied = 0;
        foreach (var value in values)
        {
            if (!LineProtocol.TryWriteShortDecimal(value, fast, out var written))
            {
                continue;
            }

            applied++;
            Assert.True(System.Buffers.Text.Utf8Formatter.TryFormat(value, general, out var expected));
            Assert.Equal(Encoding.ASCII.GetString(general, 0, expected), Encoding.ASCII.GetString(fast, 0, written));
            Assert.Equal(value, double.Parse(Encoding.ASCII.GetString(fast, 0, written), System.Globalization.CultureInfo.InvariantCulture));
        }

        // The values below 10^12 with at most 3 decimals (about a fifth of all) take the short path; the test would be
        // empty otherwise.
        Assert.True(applied > values.Count / 6, $"{applied} of {values.Count}");
    }

    /// <summary>
    /// The typed field overload (with its cache of the last 16 keys) writes what the plain overloads write: seeded lines
    /// of 1 to 24 keys out of 40, in changing orders, some integer-typed, some needing escapes, some passed as fresh
    /// copies of a cached key's text.
    /// </summary>
    [Fact]
    public void TypedFields_WriteWhatThePlainOverloadsWrite()
    {
        var random = new Random(11);
        var keys = Enumerable.Range(0, 40).Select(i => i % 7 == 0 ? $"k {i},x" : $"metric_{i}").ToArray();
        bool IsInteger(string key) => key.EndsWith('3') || key.EndsWith('7');
        var typed = new LineProtocol();
        var plain = new LineProtocol();
        for (var line = 0; line < 20_000; line++)
        {
            typed.Measurement("m");
            plain.Measurement("m");
            var count = random.Next(1, 25);
            var start = random.Next(keys.Length);
            for (var f = 0; f < count; f++)
            {
                var key = random.Next(10) == 0 ? new string(keys[(start + f) % keys.Length]) : keys[(start + f) % keys.Length];
                var value = Math.Round(random.NextDouble() * 1000, random.Next(0, 5));
                typed.Field(key, value, IsInteger);
                if (IsInteger(key))
                {
                    plain.Field(key, (long)value);
                }
                else
                {
                    plain.Field(key, value);
                }
            }

            typed.End(line);
            plain.End(line);
        }

        Assert.Equal(Encoding.UTF8.GetString(plain.Written.Span), Encoding.UTF8.GetString(typed.Written.Span));
    }

    [Fact]
    public void NonFiniteFloats_AreRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new LineProtocol().Measurement("m").Field("v", double.NaN));

    [Fact]
    public void Chunk_CountsWholeLines()
    {
        var text = Encoding.UTF8.GetBytes("a v=1 1\nb v=2 2\nc v=3 3\n");

        Assert.Equal((16, 2), InfluxStore.Chunk(text, 2));
        Assert.Equal((24, 3), InfluxStore.Chunk(text, 10));
        Assert.Equal(3, InfluxStore.CountLines(text));
    }

    [Fact]
    public void SpillFile_CutsATornLastLineAndReplaysInOrder()
    {
        var dir = Directory.CreateTempSubdirectory("spill-").FullName;
        try
        {
            using (var spill = new SpillFile(dir))
            {
                spill.Append("a v=1 1\nb v=2 2\n"u8);
            }

            // A crash in the middle of an append leaves half a line.
            File.AppendAllText(Path.Combine(dir, "influx-spill.lp"), "c v=");

            using var reopened = new SpillFile(dir);
            var buffer = new byte[1024];
            var (bytes, lines) = reopened.ReadChunk(buffer, 1);
            Assert.Equal("a v=1 1\n", Encoding.UTF8.GetString(buffer, 0, bytes));
            reopened.Advance(bytes);
            (bytes, lines) = reopened.ReadChunk(buffer, 10);
            Assert.Equal(("b v=2 2\n", 1), (Encoding.UTF8.GetString(buffer, 0, bytes), lines));
            reopened.Advance(bytes);
            Assert.False(reopened.HasPending);
            Assert.False(File.Exists(Path.Combine(dir, "influx-spill.lp")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SpillFile_ResumesFromItsCursorAfterARestart()
    {
        var dir = Directory.CreateTempSubdirectory("spill-").FullName;
        try
        {
            using (var spill = new SpillFile(dir))
            {
                spill.Append("a v=1 1\nb v=2 2\nc v=3 3\n"u8);
                var (bytes, _) = spill.ReadChunk(new byte[1024], 1);
                spill.Advance(bytes);
            }

            using var reopened = new SpillFile(dir);
            var buffer = new byte[1024];
            var (read, lines) = reopened.ReadChunk(buffer, 10);
            Assert.Equal(("b v=2 2\nc v=3 3\n", 2), (Encoding.UTF8.GetString(buffer, 0, read), lines));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
