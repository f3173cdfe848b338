using System.Diagnostics.Metrics;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Pipeline;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// What <c>/metrics</c> is made of, without a server: the instruments' names and values as a listener sees them, how
/// the endpoint is protected under each setting, and the Bearer form of an API key.
/// </summary>
public sealed class MetricsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-metrics-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("Bearer key-1", "key-1", false)]
    [InlineData("bearer  key-1 ", "key-1", false)] // the scheme in any case; spaces around the key are not part of it
    [InlineData("Basic a2V5OnB3", null, false)] // another scheme: left alone, not refused
    [InlineData("Bearer ", null, true)]
    [InlineData("Bearer    ", null, true)]
    [InlineData("Bearerkey-1", null, false)]
    public void BearerToken_TakesOneBearerKey(string header, string? expected, bool invalid)
    {
        Assert.Equal((expected, invalid), (ApiKeyAuthenticationHandler.BearerToken(new StringValues(header), out var refused), refused));
    }

    [Fact]
    public void BearerToken_InTwoHeaders_IsRefused()
    {
        Assert.Null(ApiKeyAuthenticationHandler.BearerToken(new StringValues(["Bearer key-1", "Bearer key-1"]), out var invalid));
        Assert.True(invalid);
    }

    [Fact]
    public async Task BearerKey_AuthenticatesWithItsScopes_AndNotBesideXApiKey()
    {
        await using var app = Build("--Api:Keys:0:Key", "scraper-key-0001", "--Api:Keys:0:Scopes", "read");

        var bearer = await AuthenticateAsync(app, ("Authorization", "Bearer scraper-key-0001"));
        var both = await AuthenticateAsync(app, ("Authorization", "Bearer scraper-key-0001"), (ApiKeyAuthenticationHandler.Header, "scraper-key-0001"));
        var wrong = await AuthenticateAsync(app, ("Authorization", "Bearer scraper-key-0002"));
        var basic = await AuthenticateAsync(app, ("Authorization", "Basic c2NyYXBlcjpwdw=="));

        Assert.Equal(["read"], bearer.Principal?.FindAll(ApiScope.ClaimType).Select(c => c.Value));
        Assert.True(both.Failure is not null, "a key in both headers was taken");
        Assert.True(wrong.Failure is not null, "a wrong Bearer key was taken");
        Assert.True(basic.None, "another scheme's Authorization header was judged");
    }

    [Fact]
    public async Task RefusedKeys_AreCountedByReason_OncePerRequest()
    {
        await using var app = Build("--Api:Keys:0:Key", "scraper-key-0001", "--Api:Keys:0:Scopes", "read");
        using var listener = Listen(app.Services.GetRequiredService<IMeterFactory>(), "telemetry.api.keys_refused", out var seen);

        await AuthenticateAsync(app, ("Authorization", "Bearer scraper-key-0001"), (ApiKeyAuthenticationHandler.Header, "scraper-key-0001"));
        await AuthenticateAsync(app, (ApiKeyAuthenticationHandler.Header, "scraper-key-0001,scraper-key-0001"));
        await AuthenticateAsync(app, (ApiKeyAuthenticationHandler.Header, ""));
        await AuthenticateAsync(app, (ApiKeyAuthenticationHandler.Header, "scraper-key-0002"));
        await AuthenticateAsync(app, (ApiKeyAuthenticationHandler.Header, "scraper-key-0001"));
        await AuthenticateAsync(app);

        Assert.Equal(["both_headers", "several_keys", "several_keys", "not_in_force"], seen.Select(s => (string)s.Tags["reason"]!));
        Assert.All(seen, s => Assert.Equal(1, s.Value));
    }

    [Theory]
    [InlineData(null, ApiScope.Read)]
    [InlineData("false", ApiScope.Read)]
    [InlineData("true", null)]
    public void MetricsEndpoint_NeedsTheReadScope_UnlessAnonymousIsAllowed(string? allowAnonymous, string? policy)
    {
        using var app = Build(allowAnonymous is null ? [] : ["--Metrics:AllowAnonymous", allowAnonymous]);
        app.MapTelemetryMetrics();

        var endpoint = Assert.Single(Endpoints(app), e => e.RoutePattern.RawText == "/metrics");

        Assert.Equal(policy, endpoint.Metadata.GetMetadata<IAuthorizeData>()?.Policy);
        Assert.Equal(policy is null, endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null);
    }

    [Fact]
    public void MetricsEndpoint_IsNotMapped_WhenDisabled()
    {
        using var app = Build("--Metrics:Enabled", "false");
        app.MapTelemetryMetrics();

        Assert.DoesNotContain(Endpoints(app), e => e.RoutePattern.RawText == "/metrics");
    }

    [Fact]
    public void OpenAlerts_AreNotReported_UntilTheIndexHasAnswered_ThenOnePerState()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new AlertMetrics(services.GetRequiredService<IMeterFactory>());
        using var listener = Listen(services.GetRequiredService<IMeterFactory>(), "telemetry.alerts.open", out var seen);

        listener.RecordObservableInstruments();
        var before = seen.Count;
        metrics.SetOpen(AlertState.Raised, 7);
        metrics.SetOpen(AlertState.Escalated, 2);
        listener.RecordObservableInstruments();

        Assert.Equal(0, before);
        Assert.Equal([("raised", 7L), ("acknowledged", 0L), ("escalated", 2L)], seen.Select(m => ((string)m.Tags["state"]!, m.Value)));
    }

    [Fact]
    public void DeliveredAlert_IsCountedByStateCodeAndSeverity()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new AlertMetrics(services.GetRequiredService<IMeterFactory>());
        using var listener = Listen(services.GetRequiredService<IMeterFactory>(), "telemetry.alert.events", out var seen);

        metrics.Delivered(new AlertEvent
        {
            Id = "01KQ", Device = "shoe-1", Kind = "shoe", Model = "aerorun-3", Batch = "2025w28-sz2", Code = "shoe.cushioning.replace_now",
            Severity = AlertSeverity.Critical, State = AlertState.Escalated, At = DateTimeOffset.UnixEpoch, Message = "m", Evidence = [],
        });

        var (value, tags) = Assert.Single(seen);
        Assert.Equal(1, value);
        Assert.Equal(
            [("code", "shoe.cushioning.replace_now"), ("severity", "critical"), ("state", "escalated")],
            tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (t.Key, (string)t.Value!)));
    }

    [Fact]
    public void Escalation_IsCountedBySeverityAndCode()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new AlertMetrics(services.GetRequiredService<IMeterFactory>());
        using var listener = Listen(services.GetRequiredService<IMeterFactory>(), "telemetry.alerts.escalated", out var seen);

        metrics.Escalation(AlertSeverity.Warning, "watch.battery.replace_soon");

        var (value, tags) = Assert.Single(seen);
        Assert.Equal(1, value);
        Assert.Equal([("code", "watch.battery.replace_soon"), ("severity", "warning")],
            tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (t.Key, (string)t.Value!)));
        Assert.Equal(1, metrics.Escalated);
    }

    [Fact]
    public void Latencies_AreRecordedInSeconds_WithTheirOutcome()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var counters = new IngestCounters(factory);
        var seen = new List<(string Instrument, double Value, string? Outcome)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                // This factory's meter only: other tests' pipelines record on meters of the same name meanwhile.
                if (instrument.Meter.Scope == factory && instrument is Histogram<double>)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            string? outcome = null;
            foreach (var tag in tags)
            {
                outcome = tag.Key == "outcome" ? (string?)tag.Value : outcome;
            }

            seen.Add((instrument.Name, value, outcome));
        });
        listener.Start();

        counters.AckTook(TimeSpan.FromMilliseconds(250));
        counters.StoreWriteTook(TimeSpan.FromSeconds(2), stored: false);
        counters.GrainCallTook(TimeSpan.FromMilliseconds(4), succeeded: true);

        Assert.Equal(
            [("telemetry.ack.duration", 0.25, null), ("telemetry.storage.write.duration", 2.0, "failed"), ("telemetry.grain.call.duration", 0.004, "ok")],
            seen);
    }

    /// <summary>Listens to <paramref name="name"/> on the meters of <paramref name="factory"/> alone (other tests make
    /// meters of the same name meanwhile).</summary>
    private static MeterListener Listen(IMeterFactory factory, string name, out List<(long Value, Dictionary<string, object?> Tags)> seen)
    {
        var measurements = new List<(long, Dictionary<string, object?>)>();
        seen = measurements;
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            measurements.Add((value, copy));
        });
        listener.Start();
        return listener;
    }

    private static IEnumerable<RouteEndpoint> Endpoints(WebApplication app) =>
        ((IEndpointRouteBuilder)app).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>();

    private static async Task<AuthenticateResult> AuthenticateAsync(WebApplication app, params (string Name, string Value)[] headers)
    {
        using var scope = app.Services.CreateScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        return await context.AuthenticateAsync();
    }

    /// <summary>The service's options, API and metrics registrations, built but not started.</summary>
    private WebApplication Build(params string[] args)
    {
        var builder = WebApplication.CreateBuilder([.. args, "--Storage:DataDirectory", _directory]);
        builder.AddTelemetryOptions().AddTelemetryApi().AddTelemetryMetrics();
        var app = builder.Build();
        _ = app.Services.GetRequiredService<ApiKeyRing>();
        return app;
    }
}
