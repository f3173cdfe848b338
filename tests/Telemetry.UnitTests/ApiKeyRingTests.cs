using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Hosting;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The keys in force and the X-Api-Key authentication, with the service's own registrations but no server:
/// each test builds (never starts) the application on a temporary data directory.
/// </summary>
public sealed class ApiKeyRingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-api-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task PlainStringKey_HasEveryScope()
    {
        await using var app = Build("--Api:Keys:0", "plain-key-0001");

        var caller = await AuthenticateAsync(app, "plain-key-0001");

        Assert.Equal(["read", "operate", "admin"], Scopes(caller));
        Assert.Equal("Api:Keys:0", caller!.Identity!.Name);
    }

    [Fact]
    public async Task ScopedKey_HasOnlyItsScopes()
    {
        await using var app = Build("--Api:Keys:0:Key", "reader-0001", "--Api:Keys:0:Scopes", "read", "--Api:Keys:1:Key", "operator-01", "--Api:Keys:1:Scopes", "operate");

        Assert.Equal(["read"], Scopes(await AuthenticateAsync(app, "reader-0001")));
        Assert.Equal(["operate"], Scopes(await AuthenticateAsync(app, "operator-01")));
    }

    [Theory]
    [InlineData("reader-0002")] // same length, last character differs
    [InlineData("reader-000")] // a prefix
    [InlineData("reader-00011")] // the key and more
    [InlineData("")]
    public async Task WrongKey_OfTheSameLengthOrAnother_Fails(string presented)
    {
        await using var app = Build("--Api:Keys:0:Key", "reader-0001", "--Api:Keys:0:Scopes", "read");

        var result = await AuthenticateResultAsync(app, presented);

        Assert.NotNull(result.Failure);
        Assert.Null(result.Principal);
    }

    [Fact]
    public async Task NoHeader_IsAnonymous_NotAFailure()
    {
        await using var app = Build("--Api:Keys:0", "plain-key-0001");

        var result = await AuthenticateResultAsync(app, null);

        Assert.True(result.None);
    }

    [Fact]
    public async Task KeyListedTwice_HasTheScopesOfBoth()
    {
        var file = Path.Combine(_directory, "api-keys");
        await File.WriteAllTextAsync(file, "shared-key-01 operate\n");
        await using var app = Build("--Api:Keys:0:Key", "shared-key-01", "--Api:Keys:0:Scopes", "read", "--Api:KeyFile", file);

        Assert.Equal(["operate", "read"], Scopes(await AuthenticateAsync(app, "shared-key-01")).Order());
    }

    [Fact]
    public async Task WithoutKeys_TheGeneratedDemoKeyIsAnAdminKey_KeptAcrossRestarts()
    {
        string key;
        await using (var first = Build())
        {
            key = (await File.ReadAllTextAsync(ApiKeyFile.DemoPath(_directory))).Trim();
            Assert.Equal(["read", "operate", "admin"], Scopes(await AuthenticateAsync(first, key)));
        }

        await using var second = Build();
        Assert.Equal(key, (await File.ReadAllTextAsync(ApiKeyFile.DemoPath(_directory))).Trim());
        Assert.NotNull(await AuthenticateAsync(second, key));
    }

    [Fact]
    public async Task DeletingTheDemoKey_MakesANewOne_WithoutARestart()
    {
        await using var app = Build();
        var ring = app.Services.GetRequiredService<ApiKeyRing>();
        var path = ApiKeyFile.DemoPath(_directory);
        var old = (await File.ReadAllTextAsync(path)).Trim();

        var reloaded = ring.NextReload;
        File.Delete(path);
        await AwaitAsync(reloaded, "the demo key's deletion");

        var renewed = (await File.ReadAllTextAsync(path)).Trim();
        Assert.NotEqual(old, renewed);
        Assert.Null(ring.Find(old));
        Assert.Equal(["read", "operate", "admin"], Assert.IsType<ApiKey>(ring.Find(renewed)).Scopes);
    }

    [Fact]
    public async Task ReplacingTheKeyFile_RotatesItsKeys_WithoutARestart()
    {
        var file = Path.Combine(_directory, "api-keys");
        await File.WriteAllTextAsync(file, "before-rotation read\n");
        await using var app = Build("--Api:KeyFile", file);
        var ring = app.Services.GetRequiredService<ApiKeyRing>();

        var reloaded = ring.NextReload;
        await File.WriteAllTextAsync(file + ".new", "after-rotation read,operate\n");
        File.Move(file + ".new", file, overwrite: true);
        await AwaitAsync(reloaded, "the key file's replacement");

        Assert.Null(ring.Find("before-rotation"));
        Assert.Equal(["read", "operate"], Assert.IsType<ApiKey>(ring.Find("after-rotation")).Scopes);
    }

    [Fact]
    public async Task KeyFileInAKubernetesSecretMount_RotatesWhenTheMountSwapsItsDataLink()
    {
        // The layout kubelet's atomic writer keeps: api-keys -> ..data/api-keys, ..data -> a timestamped
        // directory. An update writes a new directory and renames a new link over ..data; api-keys never changes.
        var mount = Directory.CreateDirectory(Path.Combine(_directory, "secret")).FullName;
        await WriteVersionAsync("..2026_01_05", "before-rotation read\n");
        File.CreateSymbolicLink(Path.Combine(mount, "..data"), "..2026_01_05");
        File.CreateSymbolicLink(Path.Combine(mount, "api-keys"), Path.Combine("..data", "api-keys"));
        await using var app = Build("--Api:KeyFile", Path.Combine(mount, "api-keys"));
        var ring = app.Services.GetRequiredService<ApiKeyRing>();
        Assert.NotNull(ring.Find("before-rotation"));

        var reloaded = ring.NextReload;
        await WriteVersionAsync("..2026_02_01", "after-rotation read\n");
        File.CreateSymbolicLink(Path.Combine(mount, "..data_tmp"), "..2026_02_01");
        RenameOver(Path.Combine(mount, "..data_tmp"), Path.Combine(mount, "..data"));
        await AwaitAsync(reloaded, "the mount's ..data swap");
        for (var reload = 0; reload < 3 && ring.Find("after-rotation") is null; reload++)
        {
            // A reload already under way from the set-up's own file events may have read the old version; the swap's
            // event (or the poll) brings another.
            await AwaitAsync(ring.NextReload, "the mount's ..data swap");
        }

        Assert.Null(ring.Find("before-rotation"));
        Assert.NotNull(ring.Find("after-rotation"));

        // rename(2) of one link over another, as kubelet does; File.Move follows a link to a directory.
        static void RenameOver(string source, string target)
        {
            using var mv = System.Diagnostics.Process.Start("mv", ["-T", source, target]);
            mv.WaitForExit();
            Assert.Equal(0, mv.ExitCode);
        }

        async Task WriteVersionAsync(string version, string keys)
        {
            Directory.CreateDirectory(Path.Combine(mount, version));
            await File.WriteAllTextAsync(Path.Combine(mount, version, "api-keys"), keys);
        }
    }

    [Fact]
    public async Task KeyFilesDirectoryRemovedAndRecreated_LaterRotationsStillApply()
    {
        // Attack (issue 10 review), reproduced on a running service: rm -rf the key file's directory for 30 s,
        // recreate it with a rotated file. The watcher died with the directory (nothing logged), so the revoked key
        // kept answering 200 and the new one 401, also after later rotations, until a restart.
        var mount = Directory.CreateDirectory(Path.Combine(_directory, "keys")).FullName;
        var file = Path.Combine(mount, "api-keys");
        await File.WriteAllTextAsync(file, "before-rotation read\n");
        await using var app = Build("--Api:KeyFile", file);
        var ring = app.Services.GetRequiredService<ApiKeyRing>();

        Directory.Delete(mount, recursive: true);
        await Task.Delay(1000);
        Directory.CreateDirectory(mount);
        await File.WriteAllTextAsync(file + ".new", "after-rotation read\n");
        File.Move(file + ".new", file, overwrite: true);

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (ring.Find("before-rotation") is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Null(ring.Find("before-rotation"));
        Assert.NotNull(ring.Find("after-rotation"));
    }

    [Fact]
    public async Task ConfigurationReload_ReplacesTheKeys()
    {
        var settings = Path.Combine(_directory, "keys.json");
        await File.WriteAllTextAsync(settings, Settings("first-key-001", "read"));
        await using var app = Build(settings);
        var ring = app.Services.GetRequiredService<ApiKeyRing>();

        var reloaded = ring.NextReload;
        await File.WriteAllTextAsync(settings, Settings("second-key-01", "operate"));
        ((IConfigurationRoot)app.Configuration).Reload();
        await AwaitAsync(reloaded, "the configuration reload");

        Assert.Null(ring.Find("first-key-001"));
        Assert.Equal(["operate"], Assert.IsType<ApiKey>(ring.Find("second-key-01")).Scopes);
    }

    [Fact]
    public async Task ReloadWithAnUnknownScope_IsRefused_AndTheKeysInForceStay()
    {
        var settings = Path.Combine(_directory, "keys.json");
        await File.WriteAllTextAsync(settings, Settings("first-key-001", "read"));
        await using var app = Build(settings);
        var ring = app.Services.GetRequiredService<ApiKeyRing>();

        var reloaded = ring.NextReload;
        await File.WriteAllTextAsync(settings, Settings("second-key-01", "raed"));
        ((IConfigurationRoot)app.Configuration).Reload();
        await AwaitAsync(reloaded, "the configuration reload");

        Assert.Equal(["read"], Assert.IsType<ApiKey>(ring.Find("first-key-001")).Scopes);
        Assert.Null(ring.Find("second-key-01"));
    }

    [Fact]
    public void TwinWithoutPersonalFields_LeavesOutTheWearersWeightAndTheLastValues_AndNothingElse()
    {
        var twin = new DeviceSnapshot
        {
            Id = "shoe-1",
            Birth = new DeviceBirth { Kind = "shoe", Model = "aerorun-3", Batch = "2025w28-sz2", Firmware = "1.4.2", WearerKg = 72 },
            Totals = new DeviceTotals { DistanceKm = 12.5 },
            OpenAlerts = [],
            LastValues = new Dictionary<string, double> { ["heart_rate_bpm"] = 151 },
            Acked = [],
        };

        var whole = JsonDocument.Parse(JsonSerializer.Serialize(twin, TwinJson.Whole)).RootElement;
        var redacted = JsonDocument.Parse(JsonSerializer.Serialize(twin, TwinJson.WithoutPersonalFields)).RootElement;

        Assert.Equal(72, whole.GetProperty("birth").GetProperty("wearer_kg").GetDouble());
        Assert.Equal(151, whole.GetProperty("last_values").GetProperty("heart_rate_bpm").GetDouble());
        Assert.Equal(
            whole.EnumerateObject().Select(p => p.Name).Where(n => n != "last_values"),
            redacted.EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            whole.GetProperty("birth").EnumerateObject().Select(p => p.Name).Where(n => n != "wearer_kg"),
            redacted.GetProperty("birth").EnumerateObject().Select(p => p.Name));
        Assert.Equal(whole.GetProperty("totals").ToString(), redacted.GetProperty("totals").ToString());
    }

    /// <summary>The service's options and API registrations, built but not started; a first argument ending
    /// in .json is added as a configuration file (not watched: tests reload it themselves).</summary>
    private WebApplication Build(params string[] args)
    {
        var builder = WebApplication.CreateBuilder([.. args.Where(a => !a.EndsWith(".json", StringComparison.Ordinal)), "--Storage:DataDirectory", _directory]);
        if (args is [var json, ..] && json.EndsWith(".json", StringComparison.Ordinal))
        {
            builder.Configuration.AddJsonFile(json, optional: false, reloadOnChange: false);
        }

        builder.AddTelemetryOptions().AddTelemetryApi();
        var app = builder.Build();
        _ = app.Services.GetRequiredService<ApiKeyRing>();
        return app;
    }

    private static string Settings(string key, string scopes) =>
        $$"""{ "Api": { "Keys": [ { "Key": "{{key}}", "Scopes": "{{scopes}}" } ] } }""";

    private static async Task<AuthenticateResult> AuthenticateResultAsync(WebApplication app, string? key)
    {
        // A scope per request, as ASP.NET Core gives each: handlers keep their result for their request.
        using var scope = app.Services.CreateScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        if (key is not null)
        {
            context.Request.Headers[ApiKeyAuthenticationHandler.Header] = key;
        }

        return await context.AuthenticateAsync();
    }

    private static async Task<ClaimsPrincipal?> AuthenticateAsync(WebApplication app, string key) =>
        (await AuthenticateResultAsync(app, key)).Principal;

    private static string[] Scopes(ClaimsPrincipal? caller) =>
        [.. caller?.FindAll(ApiScope.ClaimType).Select(c => c.Value) ?? []];

    private static async Task AwaitAsync(Task reloaded, string cause)
    {
        try
        {
            await reloaded.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the keys were not reloaded within 10 s of {cause}");
        }
    }
}
