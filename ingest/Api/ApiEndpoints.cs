using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Quality;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Api;

/// <summary>The HTTP API: health, device twins, alerts, quality and pipeline counters, each behind its scope.</summary>
internal static class ApiEndpoints
{
    private const int DefaultAlertLimit = 100;

    private static Task WriteHealthAsync(HttpContext context, Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var reasons = report.Entries.Values
            .Where(e => e.Status != Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy)
            .Select(e => e.Description ?? e.Exception?.Message ?? e.Status.ToString());
        var text = report.Status == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy
            ? "Healthy"
            : $"{report.Status}: {string.Join("; ", reasons)}";
        return context.Response.WriteAsync(text, context.RequestAborted);
    }
    private const int MaxAlertLimit = 1000;

    /// <summary>Maps every endpoint with the scope it needs (<see cref="ApiScope"/>); the README's table lists them.</summary>
    public static WebApplication MapTelemetryApi(this WebApplication app)
    {
        // "Healthy" alone when all is well; otherwise the state followed by every failing check's reason.
        app.MapHealthChecks("/health", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { ResponseWriter = WriteHealthAsync })
            .AllowAnonymous();

        var api = app.MapGroup("/api");
        api.MapGet("/devices/{id}", GetDeviceAsync).RequireAuthorization(ApiScope.Read);
        api.MapGet("/alerts", GetAlertsAsync).RequireAuthorization(ApiScope.Read);
        api.MapPost("/devices/{id}/service", ServiceAsync).RequireAuthorization(ApiScope.Operate);
        api.MapGet("/alerts/stream", StreamAsync).RequireAuthorization(ApiScope.Read);
        api.MapGet("/alerts/export", ExportAlertsAsync).RequireAuthorization(ApiScope.Read);
        api.MapGet("/quality/defect-rates", DefectRatesAsync).RequireAuthorization(ApiScope.Read);
        api.MapPost("/quality/events", QualityEventAsync).RequireAuthorization(ApiScope.Operate);
        api.MapGet("/alerts/{id}", GetAlertAsync).RequireAuthorization(ApiScope.Read);
        api.MapPost("/alerts/{id}/ack", (string id, AlertActionBody? body, IGrainFactory grains) => ChangeAsync(id, AlertState.Acknowledged, body, grains))
            .RequireAuthorization(ApiScope.Operate);
        api.MapPost("/alerts/{id}/resolve", (string id, AlertActionBody? body, IGrainFactory grains) => ChangeAsync(id, AlertState.Resolved, body, grains))
            .RequireAuthorization(ApiScope.Operate);
        api.MapGet("/ingest/stats", GetStats).RequireAuthorization(ApiScope.Read);
        api.MapGet("/cluster", GetClusterAsync).RequireAuthorization(ApiScope.Read);
        return app;
    }

    /// <summary>The silos of this instance's cluster as the membership table has them (one, on a single node).</summary>
    private static async Task<IResult> GetClusterAsync(
        IGrainFactory grains, Orleans.Runtime.ILocalSiloDetails silo, Microsoft.Extensions.Options.IOptions<Hosting.SiloOptions> options)
    {
        var hosts = await grains.GetGrain<Orleans.Runtime.IManagementGrain>(0).GetHosts(onlyActive: false);
        var view = new ClusterView(
            options.Value.Clustered ? options.Value.Clustering.ProviderType : "single",
            options.Value.Clustered ? options.Value.ClusterId : string.Empty,
            silo.SiloAddress.ToParsableString(),
            [.. hosts.OrderBy(h => h.Key.ToParsableString(), StringComparer.Ordinal).Select(h => new ClusterSilo(h.Key.ToParsableString(), h.Value.ToString()))]);
        return Results.Json(view, ApiJsonContext.Default.ClusterView);
    }

    /// <summary>The twin; its personal fields only for an admin key (<see cref="TwinJson"/>).</summary>
    private static async Task<IResult> GetDeviceAsync(string id, IGrainFactory grains, ClaimsPrincipal user, IAuthorizationService authorization)
    {
        if (!UplinkIds.IsDeviceId(id))
        {
            return Results.Problem(statusCode: 400, title: "Invalid device id", detail: "A device id matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.");
        }

        var twin = await grains.GetGrain<IDeviceGrain>(id).GetSnapshotAsync();
        return twin is null
            ? Results.Problem(statusCode: 404, title: "Unknown device", detail: $"No message from device '{id}' has been received.")
            : Results.Json(twin, (await authorization.AuthorizeAsync(user, ApiScope.Admin)).Succeeded ? TwinJson.Whole : TwinJson.WithoutPersonalFields);
    }

    /// <summary>Alerts in their current state, newest first, filtered and paged; the total is in X-Total-Count.</summary>
    private static async Task<IResult> GetAlertsAsync(
        HttpContext http, IGrainFactory grains, string? state, string? severity, string? code, string? model, string? batch, string? device, int? offset, int? limit)
    {
        var problems = new List<string>();
        AlertState? stateFilter = state is null ? null : ParseState(state) ?? Problem<AlertState>(problems, $"state must be raised, acknowledged, escalated or resolved (was '{state}')");
        AlertSeverity? severityFilter = severity is null ? null : ParseSeverity(severity) ?? Problem<AlertSeverity>(problems, $"severity must be info, warning or critical (was '{severity}')");
        if (code is not null && (code.Length is 0 or > 100 || !code.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_')))
        {
            problems.Add($"code must look like shoe.cushioning.replace_soon (was '{code}')");
        }

        if (model is not null && !UplinkIds.IsModelOrBatchId(model))
        {
            problems.Add("model must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
        }

        if (batch is not null && !UplinkIds.IsModelOrBatchId(batch))
        {
            problems.Add("batch must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
        }

        if (device is not null && !UplinkIds.IsDeviceId(device))
        {
            problems.Add("device must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$");
        }

        if (offset is < 0)
        {
            problems.Add("offset must not be negative");
        }

        if (limit is < 1 or > MaxAlertLimit)
        {
            problems.Add($"limit must be between 1 and {MaxAlertLimit}");
        }

        if (problems.Count > 0)
        {
            return Results.Problem(statusCode: 400, title: "Invalid alert filter", detail: string.Join("; ", problems) + ".");
        }

        var filter = new AlertFilter { State = stateFilter, Severity = severityFilter, Code = code, Model = model, Batch = batch, Device = device };
        var page = await grains.GetGrain<IAlertIndexGrain>(0).QueryAsync(filter, offset ?? 0, limit ?? DefaultAlertLimit);
        http.Response.Headers["X-Total-Count"] = page.Total.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Bytes(ReplyJson.ToBytes(w =>
        {
            w.WriteStartArray();
            foreach (var alert in page.Items)
            {
                ReplyJson.WriteSummary(w, alert);
            }

            w.WriteEndArray();
        }), "application/json");
    }

    /// <summary>
    /// Server-Sent Events: every alert state change as <c>id</c>, <c>event: alert</c> and the MQTT payload as
    /// <c>data</c>. A client that reconnects with <c>Last-Event-ID</c> first receives what it missed; without
    /// one it starts with the changes still held (up to 1000), then live ones. A comment every 15 s keeps
    /// proxies from closing an idle stream. When the keys are reloaded and the stream's key no longer holds
    /// <c>read</c>, the stream ends: a rotated key must not keep a stream it opened before.
    /// </summary>
    private static async Task StreamAsync(
        HttpContext http, AlertFeed feed, ApiKeyRing keys, [Microsoft.AspNetCore.Mvc.FromHeader(Name = "Last-Event-ID")] string? lastEventId)
    {
        var key = http.Request.Headers[ApiKeyAuthenticationHandler.Header].ToString();
        var reloaded = keys.NextReload;
        long? after = long.TryParse(lastEventId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var cancel = http.RequestAborted;
        try
        {
            await http.Response.WriteAsync(": alert stream\n\n", cancel);
            await http.Response.Body.FlushAsync(cancel);
            while (!cancel.IsCancellationRequested)
            {
                var (events, next) = feed.Since(after);
                foreach (var (id, alert) in events)
                {
                    var json = System.Text.Encoding.UTF8.GetString(ReplyJson.ToBytes(w => ReplyJson.WriteAlert(w, alert)));
                    await http.Response.WriteAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"id: {id}\nevent: alert\ndata: {json}\n\n"), cancel);
                    after = id;
                }

                await http.Response.Body.FlushAsync(cancel);
                var woke = await Task.WhenAny(next, reloaded, Task.Delay(TimeSpan.FromSeconds(15), cancel));
                if (woke == reloaded)
                {
                    // Checked against the ring itself: authentication ran once for this request and keeps its result.
                    reloaded = keys.NextReload;
                    if (keys.Find(key) is not { } still || !still.Scopes.Contains(ApiScope.Read))
                    {
                        await http.Response.WriteAsync(": key no longer in force\n\n", cancel);
                        return;
                    }
                }
                else if (woke != next)
                {
                    await http.Response.WriteAsync(": keep-alive\n\n", cancel);
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
    }

    /// <summary>After-sales reports a replaced part: its wear restarts from new and its alerts are resolved.</summary>
    private static async Task<IResult> ServiceAsync(string id, ServiceBody? body, IGrainFactory grains)
    {
        if (!UplinkIds.IsDeviceId(id))
        {
            return Results.Problem(statusCode: 400, title: "Invalid device id", detail: "A device id matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.");
        }

        if (body is not { Action: "replaced", Part: "shoe" or "insole" or "battery" or "band" } || body.Actor is { Length: > 100 } || body.Note is { Length: > 2000 })
        {
            return Results.Problem(statusCode: 400, title: "Invalid service event",
                detail: "Send JSON {\"action\":\"replaced\",\"part\":\"shoe\"|\"insole\"|\"battery\"|\"band\"}, optionally with \"actor\" and \"note\".");
        }

        var resolved = await grains.GetGrain<IDeviceGrain>(id).PartReplacedAsync(body.Part, body.Actor ?? "after-sales", body.Note);
        return resolved is null
            ? Results.Problem(statusCode: 404, title: "Unknown device", detail: $"No message from device '{id}' has been received.")
            : Results.Bytes(ReplyJson.ToBytes(w =>
            {
                w.WriteStartObject();
                w.WriteString("device"u8, id);
                w.WriteString("part"u8, body.Part);
                w.WriteStartArray("resolved_alerts"u8);
                foreach (var alert in resolved)
                {
                    w.WriteStringValue(alert);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }), "application/json");
    }

    /// <summary>Every alert the index holds, one row each, as CSV or Parquet; <c>from</c>/<c>to</c> select by the
    /// time the alert was raised, <c>model</c>/<c>batch</c> by the device's birth.</summary>
    private static async Task<IResult> ExportAlertsAsync(
        IGrainFactory grains, string? format, string? from, string? to, string? model, string? batch, CancellationToken cancellationToken)
    {
        if (format is not ("csv" or "parquet"))
        {
            return Results.Problem(statusCode: 400, title: "Invalid format", detail: $"format must be csv or parquet (was '{format}').");
        }

        if (CheckExportFilters(from, to, model, batch, out var window) is { } invalid)
        {
            return invalid;
        }

        var index = grains.GetGrain<IAlertIndexGrain>(0);
        var alerts = new List<AlertSummary>();
        for (var offset = 0; ; offset += MaxAlertLimit)
        {
            var page = await index.QueryAsync(new AlertFilter { Model = model, Batch = batch }, offset, MaxAlertLimit);
            alerts.AddRange(page.Items.Where(a => window.Contains(a.RaisedAt)));
            if (page.Items.Length < MaxAlertLimit)
            {
                break;
            }
        }

        return format == "csv"
            ? Results.Text(AlertExport.Csv(alerts), "text/csv", System.Text.Encoding.UTF8)
            : Results.File(await AlertExport.ParquetAsync(alerts, cancellationToken), "application/vnd.apache.parquet", "alerts.parquet");
    }

    /// <summary>Defect rates per (model, batch, failure mode), as JSON or CSV, optionally filtered.</summary>
    private static async Task<IResult> DefectRatesAsync(
        IGrainFactory grains, string? format, string? model, string? batch, string? failure_mode, string? from, string? to, CancellationToken cancellationToken)
    {
        if (format is not (null or "json" or "csv" or "parquet"))
        {
            return Results.Problem(statusCode: 400, title: "Invalid format", detail: $"format must be json, csv or parquet (was '{format}').");
        }

        if (CheckExportFilters(from, to, model, batch, out var window) is { } invalid)
        {
            return invalid;
        }

        if (failure_mode is not null && !UplinkIds.IsFailureMode(failure_mode))
        {
            return Results.Problem(statusCode: 400, title: "Invalid filter", detail: "failure_mode must match ^[a-z][a-z0-9_]{0,63}$.");
        }

        var rows = (await grains.RatesAsync(model, window))
            .Where(r => (batch is null || r.Batch == batch) && (failure_mode is null || r.FailureMode == failure_mode))
            .ToList();
        if (format == "parquet")
        {
            return Results.File(await QualityParquet.WriteAsync(rows, cancellationToken), "application/vnd.apache.parquet", "defect-rates.parquet");
        }

        return format == "csv"
            ? Results.Text(QualityJson.Csv(rows), "text/csv", System.Text.Encoding.UTF8)
            : Results.Bytes(ReplyJson.ToBytes(w =>
            {
                w.WriteStartArray();
                foreach (var row in rows)
                {
                    QualityJson.WriteRow(w, row);
                }

                w.WriteEndArray();
            }), "application/json");
    }

    /// <summary>The filters both exports share: a time range, and model and batch ids. Null when valid, else the 400.</summary>
    private static IResult? CheckExportFilters(string? from, string? to, string? model, string? batch, out QualityWindow window)
    {
        if (ParseWindow(from, to, out window) is { } invalid)
        {
            return invalid;
        }

        return (model is not null && !UplinkIds.IsModelOrBatchId(model)) || (batch is not null && !UplinkIds.IsModelOrBatchId(batch))
            ? Results.Problem(statusCode: 400, title: "Invalid filter", detail: "model and batch must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.")
            : null;
    }

    /// <summary>An optional half-open time range [from, to) of RFC 3339 timestamps (a date alone means its
    /// start, UTC); null when valid, else the 400 to return.</summary>
    private static IResult? ParseWindow(string? from, string? to, out QualityWindow window)
    {
        window = QualityWindow.All;
        DateTimeOffset? start = null, end = null;
        foreach (var (name, text) in new[] { ("from", from), ("to", to) })
        {
            if (text is null)
            {
                continue;
            }

            if (!DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var at))
            {
                return Results.Problem(statusCode: 400, title: "Invalid time range",
                    detail: $"{name} must be an RFC 3339 timestamp such as 2026-11-01T00:00:00Z, or a date (was '{text}').");
            }

            if (name == "from")
            {
                start = at;
            }
            else
            {
                end = at;
            }
        }

        if (start >= end)
        {
            return Results.Problem(statusCode: 400, title: "Invalid time range", detail: "from must be before to.");
        }

        window = new QualityWindow(start, end);
        return null;
    }

    /// <summary>An after-sales event may be dated a little ahead of this clock (another system's clock), not more.</summary>
    private static readonly TimeSpan EventClockSkew = TimeSpan.FromMinutes(5);

    private static readonly DateTimeOffset EarliestEvent = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A confirmed after-sales event (return, repair, warranty claim) with its failure mode.</summary>
    private static async Task<IResult> QualityEventAsync(QualityEventBody? body, IGrainFactory grains, TimeProvider time, QualityRegistry registry)
    {
        if (body is not { Device: { } device, Model: { } model, Batch: { } batch, FailureMode: { } mode, Kind: "return" or "repair" or "warranty" }
            || !UplinkIds.IsDeviceId(device) || !UplinkIds.IsModelOrBatchId(model) || !UplinkIds.IsModelOrBatchId(batch))
        {
            return Results.Problem(statusCode: 400, title: "Invalid quality event",
                detail: "Send JSON {\"device\",\"model\",\"batch\",\"failure_mode\",\"kind\":\"return\"|\"repair\"|\"warranty\",\"at\"?}.");
        }

        if (!UplinkIds.IsFailureMode(mode))
        {
            return Results.Problem(statusCode: 400, title: "Invalid quality event", detail: $"failure_mode must match ^[a-z][a-z0-9_]{{0,63}}$ (was '{mode}').");
        }

        if (!registry.Accepts(model, batch))
        {
            // A typo would otherwise start a batch of its own in the defect rates.
            return Results.Problem(statusCode: 400, title: "Unknown product",
                detail: $"model '{model}' and batch '{batch}' are not both in Quality:KnownModels and Quality:KnownBatches.");
        }

        var now = time.GetUtcNow();
        if (body.At is { } at && (at > now + EventClockSkew || at < EarliestEvent))
        {
            return Results.Problem(statusCode: 400, title: "Invalid quality event",
                detail: $"at must lie between {EarliestEvent:yyyy-MM-dd} and now (was {ReplyJson.Time(at)}).");
        }

        await grains.Batch(model, batch).ReportFailureAsync(
            new FailureReport(device, model, batch, mode, body.At ?? now, body.Kind));
        return Results.Accepted();
    }

    private static async Task<IResult> GetAlertAsync(string id, IGrainFactory grains)
    {
        var view = await FindAsync(id, grains);
        return view is null ? UnknownAlert(id) : Results.Bytes(ReplyJson.ToBytes(w => ReplyJson.WriteView(w, view)), "application/json");
    }

    private static async Task<IResult> ChangeAsync(string id, AlertState target, AlertActionBody? body, IGrainFactory grains)
    {
        if (body?.Actor is not { Length: > 0 and <= 100 } actor || body.Note is { Length: > 2000 })
        {
            return Results.Problem(statusCode: 400, title: "Invalid request",
                detail: "Send JSON {\"actor\": \"who (1-100 characters)\", \"note\": \"optional, at most 2000 characters\"}.");
        }

        // The alert history names the service's own changes "system"; a caller must not pass for it.
        if (actor.Trim().Equals("system", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Problem(statusCode: 400, title: "Invalid request",
                detail: "The actor \"system\" is reserved for the service's own changes: name the person or tool acting.");
        }

        var device = await grains.GetGrain<IAlertIndexGrain>(0).DeviceOfAsync(id);
        if (device is null)
        {
            return UnknownAlert(id);
        }

        var change = await grains.GetGrain<IDeviceGrain>(device).ChangeAlertAsync(id, target, actor, body.Note);
        return change.Outcome switch
        {
            AlertChangeOutcome.NotFound => UnknownAlert(id),
            AlertChangeOutcome.Conflict => Results.Problem(statusCode: 409, title: "Alert already resolved", detail: change.Reason),
            _ => Results.Bytes(ReplyJson.ToBytes(w => ReplyJson.WriteView(w, change.Alert!)), "application/json"),
        };
    }

    private static async Task<AlertView?> FindAsync(string id, IGrainFactory grains) =>
        id.Length is > 0 and <= 64 && await grains.GetGrain<IAlertIndexGrain>(0).DeviceOfAsync(id) is { } device
            ? await grains.GetGrain<IDeviceGrain>(device).GetAlertAsync(id)
            : null;

    private static IResult UnknownAlert(string id) =>
        Results.Problem(statusCode: 404, title: "Unknown alert", detail: $"No alert has the id '{id}'.");

    private static T? Problem<T>(List<string> problems, string text)
        where T : struct
    {
        problems.Add(text);
        return null;
    }

    private static AlertState? ParseState(string text) => text switch
    {
        "raised" => AlertState.Raised,
        "acknowledged" => AlertState.Acknowledged,
        "escalated" => AlertState.Escalated,
        "resolved" => AlertState.Resolved,
        _ => null,
    };

    private static AlertSeverity? ParseSeverity(string text) => text switch
    {
        "info" => AlertSeverity.Info,
        "warning" => AlertSeverity.Warning,
        "critical" => AlertSeverity.Critical,
        _ => null,
    };

    private static IResult GetStats(
        IngestCounters counters, IngestPipeline pipeline, Storage.StorageCounters storage, AlertMetrics alerts, Broker.BrokerCounters broker,
        Webhooks.WebhookSender webhooks, Grains.Alerts.AlertFanOut fanOut, Grains.Devices.TwinCounters twins) =>
        Results.Json(CollectStats(counters, pipeline, storage, alerts, broker, webhooks, fanOut, twins), ApiJsonContext.Default.IngestStats);

    /// <summary>What <c>GET /api/ingest/stats</c> returns, for the console's pipeline page too.</summary>
    internal static IngestStats CollectStats(
        IngestCounters counters, IngestPipeline pipeline, Storage.StorageCounters storage, AlertMetrics alerts, Broker.BrokerCounters broker,
        Webhooks.WebhookSender webhooks, Grains.Alerts.AlertFanOut fanOut, Grains.Devices.TwinCounters twins) =>
        new IngestStats
        {
            Messages = counters.Messages,
            Readings = counters.Readings,
            Duplicates = counters.Duplicates,
            InvalidTopics = counters.InvalidTopics,
            ErrorsDropped = counters.ErrorsDropped,
            GrainFailures = counters.GrainFailures,
            PartitionRestarts = counters.PartitionRestarts,
            DeliveriesHeld = counters.DeliveriesHeld,
            Held = pipeline.Held,
            ClockHolds = counters.ClockHolds,
            ChargeCountsIgnored = twins.ChargeCountsIgnored,
            Queued = pipeline.Queued,
            Rejections = RejectReasons.All.ToDictionary(r => r.WireName(), counters.Rejections),
            AlertsEscalated = alerts.Escalated,
            AlertDelivery = new AlertDeliveryStats
            {
                Pending = fanOut.Pending,
                Delivered = fanOut.Delivered,
                AwaitingConfirmation = fanOut.AwaitingConfirmation,
                Superseded = fanOut.Superseded,
                Resent = fanOut.Resent,
            },
            BirthsUnregistered = counters.BirthsUnregistered,
            Webhooks = webhooks.Stats(),
            Subscriber = new SubscriberStats
            {
                DeliveriesReceived = counters.DeliveriesReceived,
                DeliveriesAcknowledged = counters.DeliveriesAcknowledged,
                DeliveriesAbandoned = counters.DeliveriesAbandoned,
                DeliveriesOutstanding = counters.DeliveriesOutstanding,
                Stalls = counters.SubscriberStalls,
                WindowExceeded = counters.BrokerWindowExceeded,
                WindowBytesFull = counters.WindowBytesFull,
                Unanswered = counters.SubscriberUnanswered,
            },
            Broker = new BrokerStats
            {
                ConnectionsRefused = broker.ConnectionsRefused,
                PublishesRefused = broker.PublishesRefused,
                SubscriptionsRefused = broker.SubscriptionsRefused,
                ServiceWindow = broker.WindowSize,
                ServiceInFlight = broker.ServiceInFlight,
                WindowWaiting = broker.WindowWaiting,
                WindowWaits = broker.WindowWaits,
                WindowPausedSeconds = broker.WindowPaused.TotalSeconds,
                ServiceDropped = broker.ServiceDropped,
            },
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
        };
}

/// <summary>The body of an ack or resolve: who does it, and why.</summary>
internal sealed record AlertActionBody(string? Actor, string? Note);

/// <summary>The body of <c>POST /api/devices/{id}/service</c>.</summary>
internal sealed record ServiceBody(string? Action, string? Part, string? Actor, string? Note);

/// <summary>The body of <c>POST /api/quality/events</c>.</summary>
internal sealed record QualityEventBody(string? Device, string? Model, string? Batch, [property: System.Text.Json.Serialization.JsonPropertyName("failure_mode")] string? FailureMode, string? Kind, DateTimeOffset? At);
