using System.Text.Json;
using Telemetry.Grains.Devices;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Api;

/// <summary>The HTTP API: health, device twins, recent alerts and pipeline counters.</summary>
internal static class ApiEndpoints
{
    private const int DefaultAlertLimit = 100;

    public static WebApplication MapTelemetryApi(this WebApplication app)
    {
        app.MapHealthChecks("/health");

        var api = app.MapGroup("/api");
        api.MapGet("/devices/{id}", GetDeviceAsync);
        api.MapGet("/alerts", GetAlerts);
        api.MapGet("/ingest/stats", GetStats);
        return app;
    }

    private static async Task<IResult> GetDeviceAsync(string id, IGrainFactory grains)
    {
        if (!UplinkIds.IsDeviceId(id))
        {
            return Results.Problem(statusCode: 400, title: "Invalid device id", detail: "A device id matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.");
        }

        var twin = await grains.GetGrain<IDeviceGrain>(id).GetSnapshotAsync();
        return twin is null
            ? Results.Problem(statusCode: 404, title: "Unknown device", detail: $"No message from device '{id}' has been received.")
            : Results.Json(twin, ApiJsonContext.Default.DeviceSnapshot);
    }

    private static IResult GetAlerts(AlertFeed feed, string? device, int? limit)
    {
        if (limit is < 1 or > AlertFeed.Capacity)
        {
            return Results.Problem(statusCode: 400, title: "Invalid limit", detail: $"limit must be between 1 and {AlertFeed.Capacity}.");
        }

        if (device is not null && !UplinkIds.IsDeviceId(device))
        {
            return Results.Problem(statusCode: 400, title: "Invalid device id", detail: "A device id matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.");
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Mqtt.ReplyJson.WriterOptions))
        {
            writer.WriteStartArray();
            foreach (var alert in feed.Recent(device, limit ?? DefaultAlertLimit))
            {
                ReplyJson.WriteAlert(writer, alert);
            }

            writer.WriteEndArray();
        }

        return Results.Bytes(buffer.WrittenMemory, "application/json; charset=utf-8");
    }

    private static IResult GetStats(IngestCounters counters, IngestPipeline pipeline, Storage.StorageCounters storage) => Results.Json(
        new IngestStats
        {
            Messages = counters.Messages,
            Readings = counters.Readings,
            Duplicates = counters.Duplicates,
            InvalidTopics = counters.InvalidTopics,
            ErrorsDropped = counters.ErrorsDropped,
            GrainFailures = counters.GrainFailures,
            Queued = pipeline.Queued,
            Rejections = RejectReasons.All.ToDictionary(r => r.WireName(), counters.Rejections),
            Storage = new StorageStats
            {
                LinesWritten = storage.Written,
                LinesSpilled = storage.Spilled,
                LinesReplayed = storage.Replayed,
                LinesDeadLettered = storage.DeadLettered,
                SpillBacklogBytes = storage.SpillBacklogBytes,
                Retries = storage.Retries,
                Splits = storage.Splits,
                Failures = storage.Failures,
            },
        },
        ApiJsonContext.Default.IngestStats);
}
