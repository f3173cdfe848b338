using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Telemetry.Ingest;
using Telemetry.Ingest.Api;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>How API keys are configured: both shapes of <c>Api:Keys:N</c>, the key file, and the checks that
/// stop start-up with a message naming the key.</summary>
public sealed class ApiOptionsTests
{
    [Fact]
    public void ApiSection_ReadsPlainAndScopedKeys_InBothScopeShapes()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:Keys:0"] = "plain-key",
            ["Api:Keys:1:Key"] = "scoped-key",
            ["Api:Keys:1:Scopes"] = "read,operate",
            ["Api:Keys:2:Key"] = "array-key",
            ["Api:Keys:2:Scopes:0"] = "read",
            ["Api:Keys:2:Scopes:1"] = "admin",
            ["Api:Keys:3"] = "", // Api__Keys__3= in a compose file: no key
            ["Api:KeyFile"] = "/run/secrets/api-keys",
        }).Build();
        var options = new ApiOptions();

        ApiOptionsSetup.Read(configuration.GetSection(ApiOptions.SectionName), options);

        Assert.Equal(
            [("Api:Keys:0", "plain-key", null), ("Api:Keys:1", "scoped-key", "read,operate"), ("Api:Keys:2", "array-key", "read,admin")],
            options.Keys.Select(k => (k.Path, k.Key, k.Scopes)));
        Assert.Equal("/run/secrets/api-keys", options.KeyFile);
    }

    [Theory]
    [InlineData("admin", new[] { "read", "operate", "admin" })]
    [InlineData("read", new[] { "read" })]
    [InlineData("operate", new[] { "operate" })]
    [InlineData("Read, OPERATE", new[] { "read", "operate" })]
    [InlineData("read,operate,read", new[] { "read", "operate" })]
    public void Scopes_AdminImpliesReadAndOperate_WhichAreIndependent(string text, string[] expected)
    {
        Assert.Equal(expected, ApiScope.Parse(text, out var unknown));
        Assert.Null(unknown);
    }

    [Fact]
    public void UnknownScope_FailsNamingTheKeyIndexAndTheName()
    {
        var result = new ApiOptionsValidator().Validate(null, Options(new ApiKeyOptions { Path = "Api:Keys:1", Key = "k", Scopes = "read,reed" }));

        Assert.True(result.Failed);
        Assert.Contains("Api:Keys:1:Scopes has an unknown scope 'reed' (known: read, operate, admin)", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ScopedKeyWithoutScopesOrWithoutAKey_FailsNamingTheKey()
    {
        var result = new ApiOptionsValidator().Validate(null, Options(
            new ApiKeyOptions { Path = "Api:Keys:0", Key = "k", Scopes = " , " },
            new ApiKeyOptions { Path = "Api:Keys:1", Key = "", Scopes = "read" }));

        Assert.Contains("Api:Keys:0:Scopes must name at least one scope", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Api:Keys:1:Key must not be empty", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void PlainAndScopedKeys_AreValid()
    {
        Assert.True(new ApiOptionsValidator().Validate(null, Options(
            new ApiKeyOptions { Path = "Api:Keys:0", Key = "plain" },
            new ApiKeyOptions { Path = "Api:Keys:1", Key = "k", Scopes = "read" })).Succeeded);
        Assert.True(new ApiOptionsValidator().Validate(null, new ApiOptions()).Succeeded);
    }

    [Fact]
    public void KeyFile_HasKeysWithTheirScopes_AndCommentsAreSkipped()
    {
        var errors = new List<string>();

        var keys = ApiKeyFile.Parse("# rotated 2026-01-05\n\nkey-one read\nkey-two\tread, operate\r\nkey-three admin\n", "keys", errors);

        Assert.Empty(errors);
        Assert.Equal(
            [("keys line 3", new[] { "read" }), ("keys line 4", ["read", "operate"]), ("keys line 5", ["read", "operate", "admin"])],
            keys.Select(k => (k.Label, k.Scopes)));
        Assert.Equal(ApiKey.Hash("key-two"), keys[1].Digest);
    }

    [Theory]
    [InlineData("key-alone")] // a line cut short by a write that was not atomic
    [InlineData("key,read")] // the wrong separator
    public void KeyFileLineWithoutScopes_IsAnError_NotAnAdminKey(string line)
    {
        var errors = new List<string>();

        var keys = ApiKeyFile.Parse($"good read\n{line}\n", "keys", errors);

        Assert.Equal(["keys line 1"], keys.Select(k => k.Label));
        Assert.Contains("keys line 2: name the key's scopes", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void GeneratedDemoKeyFile_HoldsOneKeyWithEveryScope()
    {
        var errors = new List<string>();

        var keys = ApiKeyFile.Parse("0123abcd\n", "demo", errors, keyAloneHasEveryScope: true);

        Assert.Empty(errors);
        Assert.Equal(["read", "operate", "admin"], Assert.Single(keys).Scopes);
    }

    [Fact]
    public void KeyFileWithAnUnknownScope_FailsNamingTheFileAndLine()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "good-key read\nbad-key reed\n");

            var result = new ApiOptionsValidator().Validate(null, new ApiOptions { KeyFile = path });

            Assert.True(result.Failed);
            Assert.Contains($"Api:KeyFile '{path}' line 2: unknown scope 'reed'", result.FailureMessage, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingKeyFile_FailsNamingTheKey()
    {
        var result = new ApiOptionsValidator().Validate(null, new ApiOptions { KeyFile = "/nonexistent/api-keys" });

        Assert.True(result.Failed);
        Assert.Contains("Api:KeyFile names a file that does not exist: '/nonexistent/api-keys'", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownScope_StopsStartUp()
    {
        var data = Directory.CreateTempSubdirectory("telemetry-api-options-").FullName;
        try
        {
            var failure = Assert.Throws<OptionsValidationException>(() => TelemetryApp.Build(
                ["--Storage:DataDirectory", data, "--Api:Keys:0", "plain", "--Api:Keys:3:Key", "k", "--Api:Keys:3:Scopes", "reader"]));

            Assert.Contains("Api:Keys:3:Scopes has an unknown scope 'reader'", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static ApiOptions Options(params ApiKeyOptions[] keys)
    {
        var options = new ApiOptions();
        options.Keys.AddRange(keys);
        return options;
    }
}
