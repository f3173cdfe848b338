namespace Telemetry.EndToEndTests;

/// <summary>
/// The service with scoped keys from both places they can come from: its own appsettings.json (a content root
/// of its own, reloaded on change as in production) and an <c>Api:KeyFile</c>; plus the fixture's plain
/// admin key from the command line. Tests rotate keys by rewriting either file.
/// </summary>
public sealed class ApiAccessFixture : ServiceFixture
{
    public const string ReadKey = "read-key-e2e-000000001";

    public const string OperateKey = "operate-key-e2e-000001";

    public const string ReadOperateKey = "read-operate-key-e2e-1";

    /// <summary>In the key file with read, until a test rotates it.</summary>
    public const string FileKey = "file-key-e2e-0000000001";

    /// <summary>In appsettings.json with read, until a test rotates it.</summary>
    public const string SettingsKey = "settings-key-e2e-00001";

    public ApiAccessFixture()
        : this(Directory.CreateTempSubdirectory("telemetry-e2e-api-").FullName)
    {
    }

    private ApiAccessFixture(string root)
        : base(["--contentRoot", root, "--Api:KeyFile", Path.Combine(root, "api-keys")])
    {
        ContentRoot = root;
        WriteSettings(SettingsKey);
        WriteKeyFile(FileKey);
    }

    public string ContentRoot { get; }

    /// <summary>Replaces appsettings.json: the scoped keys, and <paramref name="settingsKey"/> with read.
    /// Index 0 is the command line's plain key, so these start at 1.</summary>
    public void WriteSettings(string settingsKey) => Replace(Path.Combine(ContentRoot, "appsettings.json"), $$"""
        {
          "Api": {
            "Keys": {
              "1": { "Key": "{{ReadKey}}", "Scopes": "read" },
              "2": { "Key": "{{OperateKey}}", "Scopes": "operate" },
              "3": { "Key": "{{ReadOperateKey}}", "Scopes": [ "read", "operate" ] },
              "4": { "Key": "{{settingsKey}}", "Scopes": "read" }
            }
          }
        }
        """);

    /// <summary>Replaces the key file with <paramref name="fileKey"/> (read).</summary>
    public void WriteKeyFile(string fileKey) => Replace(Path.Combine(ContentRoot, "api-keys"), $"""
        # keys for the end-to-end tests
        {fileKey} read
        """);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(ContentRoot, recursive: true);
    }

    /// <summary>Written beside and renamed over, as a key should be rotated: no reader sees half a file.</summary>
    private static void Replace(string path, string text)
    {
        File.WriteAllText(path + ".new", text);
        File.Move(path + ".new", path, overwrite: true);
    }
}
