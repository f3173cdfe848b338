using Telemetry.Grains.Quality;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// Quality signals: when a batch's status changes, its rows are published retained on
/// <c>quality/{model}/{batch}</c> and written to the <c>defect_rate</c> measurement; after the publisher reconnects,
/// they are published again marked <c>"republished": true</c> (for a broker that lost its retained messages), and
/// not written. Completes only when the broker acknowledged the message and the store took the lines, and throws
/// otherwise: the model's grain keeps the rows pending and retries.
/// </summary>
internal sealed class MqttQualitySink(MqttOutbox outbox, IReadingStore store, TimeProvider time, Summary.ActivityTally tally, Metrics.QualityMetrics metrics) : IQualitySink
{
    private static readonly TimeSpan BrokerTimeout = TimeSpan.FromSeconds(5);

    public async ValueTask PublishAsync(DefectRateRow[] batchRows, CancellationToken cancellationToken)
    {
        if (batchRows.Length == 0)
        {
            return;
        }

        var (first, worst) = await PublishRetainedAsync(batchRows, republished: false, cancellationToken);
        await StoreAndCountAsync(batchRows, first, worst, cancellationToken);
    }

    /// <summary>The current status again, for the broker's retained store: published and counted in the summary's
    /// batches elevated, but neither stored again as a <c>defect_rate</c> point nor counted as a change.</summary>
    public async ValueTask RepublishAsync(DefectRateRow[] batchRows, CancellationToken cancellationToken)
    {
        if (batchRows.Length == 0)
        {
            return;
        }

        var (first, worst) = await PublishRetainedAsync(batchRows, republished: true, cancellationToken);
        tally.BatchStatus(first.Model, first.Batch, worst);
    }

    private async ValueTask<(DefectRateRow First, string Worst)> PublishRetainedAsync(DefectRateRow[] batchRows, bool republished, CancellationToken cancellationToken)
    {
        var first = batchRows[0];
        var worst = batchRows.Select(r => r.Status).OrderByDescending(Rank).First();
        var payload = ReplyJson.ToBytes(w =>
        {
            w.WriteStartObject();
            w.WriteString("model"u8, first.Model);
            w.WriteString("batch"u8, first.Batch);
            w.WriteString("status"u8, worst);
            w.WriteString("at"u8, ReplyJson.Time(time.GetUtcNow()));
            if (republished)
            {
                // A consumer that acts on each change can tell this one is not.
                w.WriteBoolean("republished"u8, true);
            }

            w.WriteStartArray("failure_modes"u8);
            foreach (var row in batchRows)
            {
                Api.QualityJson.WriteRow(w, row);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        // Retained, so that a consumer that connects later gets the current status.
        await outbox.PublishAcknowledgedAsync(new OutboundMessage($"quality/{first.Model}/{first.Batch}", payload, Retain: true), BrokerTimeout, cancellationToken);
        return (first, worst);
    }

    private async ValueTask StoreAndCountAsync(DefectRateRow[] batchRows, DefectRateRow first, string worst, CancellationToken cancellationToken)
    {
        var lines = new LineProtocol(1024);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var row in batchRows)
        {
            lines.Measurement("defect_rate").Tag("model", row.Model).Tag("batch", row.Batch).Tag("failure_mode", row.FailureMode)
                .Field("devices", row.Devices).Field("device_days", row.DeviceDays).Field("device_km", row.DeviceKm)
                .Field("failures", row.Failures).Field("rate", row.Rate).Field("ci_low", row.CiLow).Field("ci_high", row.CiHigh)
                .Field("baseline", row.Baseline).Field("status", row.Status).End(now);
        }

        if (!await store.StoreAsync(lines.Written, lines.LineCount, cancellationToken))
        {
            throw new InvalidOperationException($"The store did not take the defect_rate lines of {first.Model}/{first.Batch}.");
        }

        tally.BatchStatus(first.Model, first.Batch, worst);
        metrics.StatusChanged(worst);
    }

    private static int Rank(string status) => status switch { "elevated" => 2, "watch" => 1, _ => 0 };
}
