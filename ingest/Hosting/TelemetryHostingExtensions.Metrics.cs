using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Metrics;

namespace Telemetry.Ingest.Hosting;

internal static partial class TelemetryHostingExtensions
{
    /// <summary>The meters <c>/metrics</c> exports: the service's own, Orleans', the .NET runtime's (built into .NET 9
    /// and later, so no instrumentation package) and ASP.NET Core's request durations.</summary>
    internal static readonly string[] ExportedMeters =
    [
        Pipeline.IngestCounters.MeterName,
        Broker.BrokerCounters.MeterName,
        "Microsoft.Orleans",
        "System.Runtime",
        "Microsoft.AspNetCore.Hosting",
    ];

    /// <summary>
    /// OpenTelemetry metrics with the Prometheus exporter (<see cref="MapTelemetryMetrics"/> serves them), and the
    /// poller behind the open-alerts gauge. The instruments themselves are named for Prometheus where they are made
    /// (<see cref="Pipeline.IngestCounters"/>); the exporter only turns dots into underscores and adds the unit and
    /// <c>_total</c>.
    /// </summary>
    public static WebApplicationBuilder AddTelemetryMetrics(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<MetricsOptions>().BindConfiguration(MetricsOptions.SectionName);
        builder.Services.AddSingleton<QualityMetrics>();
        builder.Services.AddHostedService<OpenAlertsPoller>();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("telemetry"))
            .WithMetrics(metrics => metrics
                .AddMeter(ExportedMeters)
                .AddPrometheusExporter());
        return builder;
    }

    /// <summary>
    /// <c>GET /metrics</c> in the Prometheus text format: behind the <c>read</c> scope like <c>/api/ingest/stats</c>,
    /// whose figures it carries, unless <c>Metrics:AllowAnonymous</c> opens it. Not mapped when
    /// <c>Metrics:Enabled</c> is false.
    /// </summary>
    public static WebApplication MapTelemetryMetrics(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (!options.Enabled)
        {
            return app;
        }

        var endpoint = app.MapPrometheusScrapingEndpoint("/metrics");
        if (options.AllowAnonymous)
        {
            endpoint.AllowAnonymous();
        }
        else
        {
            endpoint.RequireAuthorization(ApiScope.Read);
        }

        return app;
    }
}
