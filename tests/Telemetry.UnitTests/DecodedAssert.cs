using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Compares what two decoders made of the same message: reasons always, and every decoded value of an
/// accepted message (details are for people and may differ between encodings).</summary>
internal static class DecodedAssert
{
    public static void Same(DecodedTelemetry expected, DecodedTelemetry actual)
    {
        Assert.Equal(expected.Reason, actual.Reason);
        if (expected.Reason != RejectReason.None)
        {
            return;
        }

        Assert.Equal((expected.Version, expected.Boot, expected.Seq), (actual.Version, actual.Boot, actual.Seq));
        Assert.Equal((expected.ReadingCount, expected.RejectedReadings, expected.MetricCount, expected.HasCustomMetrics),
            (actual.ReadingCount, actual.RejectedReadings, actual.MetricCount, actual.HasCustomMetrics));
        for (var i = 0; i < expected.ReadingCount; i++)
        {
            var (e, a) = (expected.Readings[i], actual.Readings[i]);
            Assert.Equal((i, e.Reason), (i, a.Reason));
            if (e.Reason != RejectReason.None)
            {
                continue;
            }

            Assert.Equal((i, e.TimestampMs, e.MetricStart, e.MetricCount), (i, a.TimestampMs, a.MetricStart, a.MetricCount));
            for (var m = e.MetricStart; m < e.MetricStart + e.MetricCount; m++)
            {
                Assert.Equal(expected.Metrics[m].Name, actual.Metrics[m].Name);
                // Bit for bit: the CBOR float must carry exactly the double the JSON text gives.
                Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Metrics[m].Value), BitConverter.DoubleToInt64Bits(actual.Metrics[m].Value));
            }
        }
    }
}
