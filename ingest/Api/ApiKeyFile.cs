using System.Globalization;
using System.Security.Cryptography;

namespace Telemetry.Ingest.Api;

/// <summary>
/// The key file format, shared by <c>Api:KeyFile</c> and the generated <c>{data}/api-key</c>: one key per
/// line followed by its scopes (<c>KEY read,operate</c>). In <c>Api:KeyFile</c> the scopes are required: a line
/// cut short by a write, or <c>KEY,read</c> with the wrong separator, must not become an admin key. The generated
/// demo file holds one key alone, which has every scope. Blank lines and lines starting with <c>#</c> are skipped.
/// </summary>
internal static class ApiKeyFile
{
    /// <summary>Where the generated demo key is kept.</summary>
    public static string DemoPath(string dataDirectory) => Path.GetFullPath(Path.Combine(dataDirectory, "api-key"));

    /// <summary>The keys in <paramref name="text"/>, labelled <c>{source} line N</c>; every malformed line adds
    /// an error naming its line, and is left out.</summary>
    public static List<ApiKey> Parse(string text, string source, List<string> errors, bool keyAloneHasEveryScope = false)
    {
        var keys = new List<ApiKey>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var label = string.Create(CultureInfo.InvariantCulture, $"{source} line {i + 1}");
            var split = line.IndexOfAny([' ', '\t']);
            var key = split < 0 ? line : line[..split];
            var scopeText = split < 0 ? null : line[(split + 1)..];
            if (scopeText is null && keyAloneHasEveryScope)
            {
                keys.Add(ApiKey.Create(label, key, ApiScope.All));
            }
            else if (scopeText is null)
            {
                errors.Add($"{label}: name the key's scopes after it, e.g. 'KEY read,operate' ({string.Join(", ", ApiScope.All)}).");
            }
            else if (ApiScope.Parse(scopeText, out var unknown) is { } scopes)
            {
                keys.Add(ApiKey.Create(label, key, scopes));
            }
            else
            {
                errors.Add(unknown is null
                    ? $"{label}: name scopes after the key ({string.Join(", ", ApiScope.All)})."
                    : $"{label}: unknown scope '{unknown}' (known: {string.Join(", ", ApiScope.All)}).");
            }
        }

        return keys;
    }

    /// <summary>The keys in <paramref name="path"/>; an unreadable file is an error, not an empty key set, so
    /// a file caught mid-replacement does not lock everyone out.</summary>
    public static List<ApiKey> Read(string path, string source, List<string> errors, bool keyAloneHasEveryScope = false)
    {
        try
        {
            return Parse(File.ReadAllText(path), source, errors, keyAloneHasEveryScope);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{source} could not be read: {e.Message}");
            return [];
        }
    }

    /// <summary>A digest of the file's bytes, or null when it cannot be read: how a poll sees that it changed.</summary>
    public static byte[]? Digest(string path)
    {
        try
        {
            return SHA256.HashData(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The demo key at <paramref name="path"/>, made (readable by this user only) when missing: deleting
    /// the file rotates it.</summary>
    public static void EnsureDemoKey(string path)
    {
        if (File.Exists(path))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var file = new FileStream(path, create);
            using var writer = new StreamWriter(file);
            writer.Write(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)));
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another reload made it first; its key stands.
        }
    }
}
