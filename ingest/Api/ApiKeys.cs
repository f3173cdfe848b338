using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Api;

/// <summary>HTTP API settings. Section <c>Api</c>.</summary>
public sealed class ApiOptions
{
    public const string SectionName = "Api";

    /// <summary>Keys accepted in <c>X-Api-Key</c> by the mutating and export endpoints. Empty (default): the
    /// service makes one on first start and keeps it in <c>{Storage:DataDirectory}/api-key</c>.</summary>
    public List<string> Keys { get; set; } = [];
}

/// <summary>
/// The API keys in force, and the endpoint filter that requires one. Reading endpoints and the health check
/// need no key; acknowledging, resolving, posting events and exporting do.
/// </summary>
internal sealed class ApiKeys
{
    public const string Header = "X-Api-Key";

    private readonly byte[][] _keys;

    public ApiKeys(IOptions<ApiOptions> options, IOptions<StorageOptions> storage)
    {
        var keys = options.Value.Keys.Where(k => !string.IsNullOrWhiteSpace(k)).ToList();
        if (keys.Count == 0)
        {
            keys.Add(LoadOrCreate(Path.Combine(storage.Value.DataDirectory, "api-key")));
        }

        _keys = [.. keys.Select(k => Encoding.UTF8.GetBytes(k.Trim()))];
    }

    public bool IsValid(string? presented)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        var bytes = Encoding.UTF8.GetBytes(presented);
        var valid = false;
        foreach (var key in _keys)
        {
            valid |= CryptographicOperations.FixedTimeEquals(bytes, key);
        }

        return valid;
    }

    /// <summary>An endpoint filter: 401 with a problem document unless a valid key is presented.</summary>
    public static async ValueTask<object?> Require(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var keys = context.HttpContext.RequestServices.GetRequiredService<ApiKeys>();
        if (!keys.IsValid(context.HttpContext.Request.Headers[Header]))
        {
            return Results.Problem(statusCode: 401, title: "API key required",
                detail: $"Send a valid key in the {Header} header (configured under Api:Keys).");
        }

        return await next(context);
    }

    private static string LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(path, create))
        using (var writer = new StreamWriter(file))
        {
            writer.Write(key);
        }

        return key;
    }
}
