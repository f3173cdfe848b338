using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Ingest.Api;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The HTTP API as an attacker and as each kind of key holder meets it: no key, a wrong key, a key without
/// the scope, a read key on personal data, and keys rotated while the service runs.
/// </summary>
public sealed partial class ApiAccessEndToEndTests(ApiAccessFixture service) : IClassFixture<ApiAccessFixture>
{
    /// <summary>What the brief promises operators: these, and only these, change state.</summary>
    private static readonly string[] OperateRoutes =
        ["POST /api/alerts/{id}/ack", "POST /api/alerts/{id}/resolve", "POST /api/devices/{id}/service", "POST /api/quality/events"];

    [Fact]
    public void EveryApiEndpoint_NamesExactlyOneScope_AndHealthIsTheOnlyOpenOne()
    {
        var routes = Routes().ToList();

        Assert.True(routes.Count >= 12, $"only {routes.Count} endpoints found; are the data sources enumerated?");
        foreach (var (method, pattern, endpoint) in routes)
        {
            var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).ToList();
            if (pattern == "/health")
            {
                Assert.NotNull(endpoint.Metadata.GetMetadata<IAllowAnonymous>());
                continue;
            }

            // /metrics, the Prometheus scrape, is the one protected endpoint outside /api (docs/operations.md).
            Assert.True(pattern.StartsWith("/api/", StringComparison.Ordinal) || pattern == "/metrics", $"{method} {pattern} is outside /api");
            Assert.True(policies is [{ } scope] && ApiScope.All.Contains(scope), $"{method} {pattern} names the policies [{string.Join(", ", policies)}]");
        }

        Assert.Equal(OperateRoutes, routes.Where(r => Policy(r.Endpoint) == ApiScope.Operate).Select(r => $"{r.Method} {r.Pattern}").Order());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("read-key-e2e-000000002")] // the read key's length, one character off
    [InlineData("read-key-e2e-00000000")] // one shorter
    [InlineData("a-much-longer-key-than-any-key-in-force-at-all")]
    [InlineData("READ-KEY-E2E-000000001")] // keys are compared exactly
    public async Task EveryApiEndpoint_WithoutAValidKey_Is401WithAProblemDocument(string? key)
    {
        using var client = service.Client(key);
        foreach (var (method, pattern, _) in Routes().Where(r => r.Pattern != "/health").Append((HttpMethods.Get, "/api/no-such-endpoint", null!)))
        {
            using var response = await SendAsync(client, method, pattern);

            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {pattern} with key '{key}' answered {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await ProblemAsync(response);
            Assert.Equal("API key required", problem.GetProperty("title").GetString());
            Assert.Equal("ApiKey", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
            Assert.StartsWith(
                key switch { null => "Send an API key in the X-Api-Key header", "" => "Send one key in X-Api-Key, not several (or an empty one)", _ => "The key in X-Api-Key is not one in force" },
                problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TwoKeysInOneRequest_Are401_EvenWhenBothAreValid()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/ingest/stats", UriKind.Relative));
        request.Headers.Remove("X-Api-Key");
        request.Headers.TryAddWithoutValidation("X-Api-Key", [ApiAccessFixture.ReadKey, ServiceFixture.ApiKey]);
        using var client = service.Client(null);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Send one key in X-Api-Key, not several (or an empty one).", (await ProblemAsync(response)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task AKeyInBothHeaders_Is401_SayingSo_EvenWhenBothAreTheSameValidKey()
    {
        const string authorization = "Bearer " + ApiAccessFixture.ReadKey, detail = "Send the key in X-Api-Key or in Authorization, not both.";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/ingest/stats", UriKind.Relative));
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        request.Headers.TryAddWithoutValidation("X-Api-Key", ApiAccessFixture.ReadKey);
        using var client = service.Client(null);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(detail, (await ProblemAsync(response)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task AWrongBearerKey_Is401_NamingTheAuthorizationHeader()
    {
        const string authorization = "Bearer no-such-key-at-all-000000", detail = "The key in Authorization is not one in force (it may have been rotated).";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/ingest/stats", UriKind.Relative));
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var client = service.Client(null);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(detail, (await ProblemAsync(response)).GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-key")]
    public async Task Health_NeedsNoKey(string? key)
    {
        using var client = service.Client(key);

        using var response = await client.GetAsync(new Uri("/health", UriKind.Relative));

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable });
    }

    [Fact]
    public async Task ReadKey_IsForbiddenToOperate_WithAProblemNamingTheScope()
    {
        using var client = service.Client(ApiAccessFixture.ReadKey);
        foreach (var route in OperateRoutes)
        {
            var (method, pattern) = (route.Split(' ')[0], route.Split(' ')[1]);
            using var response = await SendAsync(client, method, pattern);

            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{route} with a read key answered {(int)response.StatusCode}");
            var problem = await ProblemAsync(response);
            Assert.Equal("operate", problem.GetProperty("scope").GetString());
            Assert.Contains("'operate'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OperateKey_IsForbiddenToRead_ButMayOperate()
    {
        using var client = service.Client(ApiAccessFixture.OperateKey);
        foreach (var (method, pattern, _) in Routes().Where(r => Policy(r.Endpoint) == ApiScope.Read))
        {
            using var response = await SendAsync(client, method, pattern);

            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {pattern} with an operate key answered {(int)response.StatusCode}");
            Assert.Equal("read", (await ProblemAsync(response)).GetProperty("scope").GetString());
        }

        using var ack = await client.PostAsJsonAsync("/api/alerts/01NOSUCHALERT/ack", new { actor = "agent-1" });
        Assert.Equal(HttpStatusCode.NotFound, ack.StatusCode);
    }

    [Theory]
    [InlineData(ApiAccessFixture.ReadOperateKey)]
    [InlineData(ServiceFixture.ApiKey)] // a plain string: every scope
    public async Task KeyWithReadAndOperate_PassesEveryEndpoint(string key)
    {
        using var client = service.Client(key);
        foreach (var (method, pattern, _) in Routes())
        {
            using var response = await SendAsync(client, method, pattern);

            Assert.False(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden,
                $"{method} {pattern} answered {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task ReadKey_GetsTheTwinWithoutPersonalFields_AndAnAdminKeyWithThem()
    {
        const string id = "shoe-scope-1";
        await service.CrossCushioningThresholdAsync(id);
        var whole = await service.WaitForJsonAsync($"/api/devices/{id}", t => t.GetProperty("last_values").EnumerateObject().Any(), "the twin's last values");
        using var reader = service.Client(ApiAccessFixture.ReadKey);
        using var readOperate = service.Client(ApiAccessFixture.ReadOperateKey);

        var redacted = JsonDocument.Parse(await reader.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;
        var alsoRedacted = JsonDocument.Parse(await readOperate.GetStringAsync(new Uri($"/api/devices/{id}", UriKind.Relative))).RootElement;

        Assert.Equal(72, whole.GetProperty("birth").GetProperty("wearer_kg").GetDouble());
        Assert.Equal(45000, whole.GetProperty("last_values").GetProperty("distance_m").GetDouble());
        foreach (var twin in new[] { redacted, alsoRedacted })
        {
            Assert.False(twin.TryGetProperty("last_values", out _), twin.ToString());
            Assert.False(twin.GetProperty("birth").TryGetProperty("wearer_kg", out _), twin.ToString());
            Assert.Equal("aerorun-3", twin.GetProperty("birth").GetProperty("model").GetString());
            Assert.Equal(whole.GetProperty("totals").ToString(), twin.GetProperty("totals").ToString());
            Assert.Equal(whole.GetProperty("open_alerts").GetArrayLength(), twin.GetProperty("open_alerts").GetArrayLength());
        }
    }

    [Fact]
    public async Task ReadKey_CannotDeriveTheWearersWeight_FromAnAlertsEvidence()
    {
        // Attack (issue 10 review): the twin hides wearer_kg from a read key, but every cushioning alert carries
        // evidence.mass_factor = 1 + 0.2 * (wearer_kg - 72) / 40, rounded to 3 decimals, so wearer_kg = 72 + 200 * (mass_factor - 1)
        // exactly (measured on all 9 shoes with alerts in a --simulate 20 run), through GET /api/alerts/{id}, the SSE
        // stream and alerts/# on MQTT. The existing twin test uses 72 kg, the one weight for which mass_factor is 1.
        const string id = "shoe-scope-kg";
        await using (var device = await service.DeviceAsync(id))
        {
            var birth = System.Text.Encoding.UTF8.GetString(TestDevice.Vector("valid/birth-shoe.json")).Replace("\"wearer_kg\":72", "\"wearer_kg\":95", StringComparison.Ordinal);
            await device.PublishAsync($"devices/{id}/birth", System.Text.Encoding.UTF8.GetBytes(birth), retain: true);
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var readings = string.Join(',', Enumerable.Range(0, 4).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $$$"""{"ts":{{{now - ((4 - i) * 86_400_000L)}}},"m":{"distance_m":45000}}""")));
            await device.PublishAsync($"devices/{id}/telemetry", System.Text.Encoding.UTF8.GetBytes($$"""{"v":1,"boot":"x","seq":0,"readings":[{{readings}}]}"""));
        }

        var alerts = await service.WaitForJsonAsync($"/api/alerts?device={id}", a => a.GetArrayLength() > 0, "the shoe's cushioning alert");
        using var reader = service.Client(ApiAccessFixture.ReadKey);
        var alert = await reader.GetStringAsync(new Uri($"/api/alerts/{alerts[0].GetProperty("id").GetString()}", UriKind.Relative));

        Assert.DoesNotContain("\"mass_factor\"", alert, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlertStream_NeedsRead()
    {
        foreach (var (key, expected) in new (string?, HttpStatusCode)[]
                 {
                     (null, HttpStatusCode.Unauthorized),
                     (ApiAccessFixture.OperateKey, HttpStatusCode.Forbidden),
                     (ApiAccessFixture.ReadKey, HttpStatusCode.OK),
                 })
        {
            using var client = service.Client(key);
            using var response = await client.GetAsync(new Uri("/api/alerts/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);

            Assert.Equal(expected, response.StatusCode);
            if (expected == HttpStatusCode.OK)
            {
                Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            }
        }
    }

    [Fact]
    public async Task RewritingTheKeyFile_RotatesItsKeys_WithoutARestart_AndEndsTheOldKeysStreams()
    {
        const string rotated = "file-key-e2e-0000000002";
        using var oldClient = service.Client(ApiAccessFixture.FileKey);
        using var newClient = service.Client(rotated);
        Assert.Equal(HttpStatusCode.OK, (await oldClient.GetAsync(new Uri("/api/ingest/stats", UriKind.Relative))).StatusCode);
        using var stream = await oldClient.GetAsync(new Uri("/api/alerts/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        using var events = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(": alert stream", await events.ReadLineAsync());

        service.WriteKeyFile(rotated);
        await AwaitRotationAsync(oldClient, newClient, "/api/ingest/stats", "the key file's rewrite");

        Assert.Equal(HttpStatusCode.OK, (await service.Http.GetAsync(new Uri("/api/ingest/stats", UriKind.Relative))).StatusCode);
        Assert.Equal(": key no longer in force", await ReadUntilEndAsync(events));
    }

    [Fact]
    public async Task ReloadedConfiguration_RotatesItsKeys_WithoutARestart()
    {
        const string rotated = "settings-key-e2e-00002";
        using var oldClient = service.Client(ApiAccessFixture.SettingsKey);
        using var newClient = service.Client(rotated);
        Assert.Equal(HttpStatusCode.OK, (await oldClient.GetAsync(new Uri("/api/alerts", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await newClient.GetAsync(new Uri("/api/alerts", UriKind.Relative))).StatusCode);

        service.WriteSettings(rotated);
        await AwaitRotationAsync(oldClient, newClient, "/api/alerts", "appsettings.json's rewrite");

        using var reader = service.Client(ApiAccessFixture.ReadKey);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync(new Uri("/api/alerts", UriKind.Relative))).StatusCode);
    }

    /// <summary>
    /// Waits, reload by reload, until the old key is refused and the new one accepted. One reload is not enough: another
    /// cause (the key file's poll noticing an earlier test's rewrite) can reload the keys before the rewrite is read.
    /// </summary>
    private async Task AwaitRotationAsync(HttpClient oldClient, HttpClient newClient, string path, string cause)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(15);
        while (true)
        {
            // Taken before the check: a reload after it completes this one.
            var reloaded = service.Services.GetRequiredService<ApiKeyRing>().NextReload;
            var (old, now) = ((await oldClient.GetAsync(new Uri(path, UriKind.Relative))).StatusCode, (await newClient.GetAsync(new Uri(path, UriKind.Relative))).StatusCode);
            if (old == HttpStatusCode.Unauthorized && now == HttpStatusCode.OK)
            {
                return;
            }

            var left = deadline - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"the keys were not rotated within 15 s of {cause}: the old key gets {(int)old}, the new one {(int)now}");
            }

            try
            {
                await reloaded.WaitAsync(left);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"the keys were not reloaded within 15 s of {cause}");
            }
        }
    }

    /// <summary>The last line the stream sent before it ended; fails if it does not end within 15 s.</summary>
    private static async Task<string?> ReadUntilEndAsync(StreamReader events)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        string? last = null;
        try
        {
            while (await events.ReadLineAsync(timeout.Token) is { } line)
            {
                last = line.Length > 0 ? line : last;
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the stream of a rotated key is still open after 15 s (last line '{last}')");
        }

        return last;
    }

    /// <summary>Every (method, route) the running service maps, read from its endpoint data sources, so an
    /// endpoint added later is covered without anyone remembering to list it.</summary>
    private IEnumerable<(string Method, string Pattern, Endpoint Endpoint)> Routes() =>
        service.Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [HttpMethods.Get])
                .Select(m => (m, e.RoutePattern.RawText!, (Endpoint)e)));

    private static string? Policy(Endpoint endpoint) => endpoint.Metadata.GetMetadata<IAuthorizeData>()?.Policy;

    /// <summary>Calls <paramref name="pattern"/> with its parameters filled in and no body; a stream is closed
    /// as soon as its headers arrive.</summary>
    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string pattern)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(RouteParameter().Replace(pattern, "probe-1"), UriKind.Relative));
        return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
