using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Telemetry.Ingest.Storage;

namespace Telemetry.Ingest.Api;

/// <summary>
/// The API keys in force, from <c>Api:Keys</c>, <c>Api:KeyFile</c>, or (with neither) the generated admin key
/// in <c>{data}/api-key</c>. They are reloaded without a restart whenever the configuration reloads
/// (appsettings.json, reloadOnChange) or the key file changes, so a key is rotated by replacing it: the old one
/// is refused from the next request on. A reload that fails validation is refused and logged, and the keys in
/// force stay, so a typo cannot lock every operator out.
/// </summary>
internal sealed partial class ApiKeyRing : IDisposable
{
    private readonly IOptionsFactory<ApiOptions> _options;
    private readonly string _demoPath;
    private readonly ILogger<ApiKeyRing> _logger;
    private readonly Lock _gate = new();
    private readonly IDisposable _configurationChanges;
    private volatile IReadOnlyList<ApiKey> _keys;
    private TaskCompletionSource _reloaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FileSystemWatcher? _watcher;
    private string? _watchedFile;
    private bool _disposed;
    private readonly ITimer _poll;
    private byte[]? _polledDigest;

    /// <summary>
    /// How often the key file is read to compare it with what was loaded. Change events are the fast path, but a
    /// watcher dies with its directory (a secret mount removed and mounted again) and events can be lost; the
    /// poll catches both and watches the file again, so a revoked key never outlives its file by more than this.
    /// </summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);

    public ApiKeyRing(
        IOptionsFactory<ApiOptions> options, IOptions<StorageOptions> storage, IConfiguration configuration, TimeProvider time, ILogger<ApiKeyRing> logger)
    {
        _options = options;
        _logger = logger;
        _demoPath = ApiKeyFile.DemoPath(storage.Value.DataDirectory);

        // At start-up an invalid section throws (OptionsValidationException names the key), which stops the service.
        var errors = new List<string>();
        var (keys, file) = Load(options.Create(Options.DefaultName), errors);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(ApiOptions), errors);
        }

        _keys = keys;
        Watch(file)?.Dispose();
        _polledDigest = file is null ? null : ApiKeyFile.Digest(file);
        LogInForce(_logger, keys.Count, new Sources(keys));
        _configurationChanges = ChangeToken.OnChange(configuration.GetReloadToken, Reload);
        _poll = time.CreateTimer(_ => Poll(), null, PollInterval, PollInterval);
    }

    /// <summary>Reloads when the key file's bytes differ from what the last poll saw, watching it afresh.</summary>
    private void Poll()
    {
        string? path;
        lock (_gate)
        {
            path = _watchedFile ?? _lastFile;
        }

        if (path is null)
        {
            return;
        }

        var digest = ApiKeyFile.Digest(path);
        if (digest is null ? _polledDigest is null : _polledDigest is not null && digest.AsSpan().SequenceEqual(_polledDigest))
        {
            return;
        }

        _polledDigest = digest;
        lock (_gate)
        {
            // The watcher may have died with the file's directory: make Reload create a new one.
            _watchedFile = null;
        }

        Reload();
    }

    /// <summary>Completes after the next reload, applied or refused: open streams recheck their key then.</summary>
    public Task NextReload
    {
        get
        {
            lock (_gate)
            {
                return _reloaded.Task;
            }
        }
    }

    /// <summary>The key <paramref name="presented"/> matches, or null. Every key is compared, each in constant
    /// time; a key listed twice has the scopes of both entries.</summary>
    public ApiKey? Find(string presented)
    {
        var digest = ApiKey.Hash(presented);
        ApiKey? found = null;
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, key.Digest))
            {
                found = found is null ? key : found with { Scopes = [.. found.Scopes.Union(key.Scopes)] };
            }
        }

        return found;
    }

    public void Dispose()
    {
        FileSystemWatcher? watcher;
        lock (_gate)
        {
            _disposed = true;
            watcher = _watcher;
            _watcher = null;
        }

        _configurationChanges.Dispose();
        _poll.Dispose();
        watcher?.Dispose();
    }

    private void Reload()
    {
        TaskCompletionSource reloaded;
        FileSystemWatcher? retired = null;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                var errors = new List<string>();
                var (keys, file) = Load(_options.Create(Options.DefaultName), errors);
                if (errors.Count > 0)
                {
                    LogRefused(_logger, string.Join(" ", errors));
                }
                else
                {
                    if (!ApiKey.SameSet(keys, _keys))
                    {
                        LogReloaded(_logger, keys.Count, new Sources(keys));
                    }

                    _keys = keys;
                    retired = Watch(file);
                }
            }
            catch (Exception e) when (e is OptionsValidationException or IOException or UnauthorizedAccessException)
            {
                LogRefused(_logger, e.Message);
            }

            reloaded = _reloaded;
            _reloaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // Disposed outside the lock: its event thread may be waiting for the lock in this method.
        retired?.Dispose();
        reloaded.TrySetResult();
    }

    /// <summary>The key file the configuration names (or the demo file), for the poll; kept when a load fails.</summary>
    private string? _lastFile;

    /// <summary>The keys <paramref name="options"/> put in force, and the file to watch for changes.</summary>
    private (List<ApiKey> Keys, string? File) Load(ApiOptions options, List<string> errors)
    {
        // Validated already: a configured key's scopes parse.
        var keys = options.Keys
            .Select(k => ApiKey.Create(k.Path, k.Key, k.Scopes is null ? ApiScope.All : ApiScope.Parse(k.Scopes, out _)!))
            .ToList();
        if (options.KeyFile.Length > 0)
        {
            var path = Path.GetFullPath(options.KeyFile);
            _lastFile = path;
            keys.AddRange(ApiKeyFile.Read(path, $"Api:KeyFile '{path}'", errors));
            if (errors.Count == 0 && keys.Count == 0)
            {
                LogNoKeys(_logger, path);
            }

            return (keys, path);
        }

        if (keys.Count > 0)
        {
            _lastFile = null;
            return (keys, null);
        }

        _lastFile = _demoPath;
        ApiKeyFile.EnsureDemoKey(_demoPath);
        keys.AddRange(ApiKeyFile.Read(_demoPath, _demoPath, errors, keyAloneHasEveryScope: true));
        if (errors.Count == 0 && keys.Count == 0)
        {
            LogNoKeys(_logger, _demoPath);
        }

        return (keys, _demoPath);
    }

    /// <summary>Watches <paramref name="path"/> (none when null) instead of the file watched so far; returns the
    /// watcher it replaces, for the caller to dispose.</summary>
    private FileSystemWatcher? Watch(string? path)
    {
        if (path == _watchedFile)
        {
            return null;
        }

        var retired = _watcher;
        _watcher = null;
        _watchedFile = path;
        if (path is null)
        {
            return retired;
        }

        // The directory, not the file: replacing a file by renaming another onto it (how a key should be
        // rotated, so no reader sees it half written) is an event on the directory. Kubernetes updates a secret
        // mount by swapping its "..data" link, which never names the file, so those events count too.
        var name = Path.GetFileName(path);
        bool Concerns(string? changed) => changed is not null && (changed == name || changed.StartsWith("..", StringComparison.Ordinal));
        FileSystemWatcher watcher;
        try
        {
            watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
        }
        catch (ArgumentException e)
        {
            // The directory went away between reading the file and watching it: the poll takes over.
            LogWatchFailed(_logger, path, e.Message);
            _watchedFile = null;
            return retired;
        }
        watcher.Changed += (_, e) => ReloadIf(Concerns(e.Name));
        watcher.Created += (_, e) => ReloadIf(Concerns(e.Name));
        watcher.Deleted += (_, e) => ReloadIf(Concerns(e.Name));
        watcher.Renamed += (_, e) => ReloadIf(Concerns(e.Name) || Concerns(e.OldName));
        watcher.Error += (_, e) =>
        {
            // Events may have been lost (the watcher's buffer overflowed): read the file again to be sure.
            LogWatchFailed(_logger, path, e.GetException().Message);
            Reload();
        };
        watcher.EnableRaisingEvents = true;
        _watcher = watcher;
        return retired;
    }

    private void ReloadIf(bool concerned)
    {
        if (concerned)
        {
            Reload();
        }
    }

    /// <summary>Where the keys come from and their scopes, formatted only when the line is logged.</summary>
    private readonly record struct Sources(IReadOnlyList<ApiKey> Keys)
    {
        public override string ToString() => string.Join(", ", Keys.Select(k => $"{k.Label} ({string.Join(',', k.Scopes)})"));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} API keys in force: {Sources}")]
    private static partial void LogInForce(ILogger logger, int count, Sources sources);

    [LoggerMessage(Level = LogLevel.Information, Message = "API keys reloaded, {Count} in force: {Sources}")]
    private static partial void LogReloaded(ILogger logger, int count, Sources sources);

    [LoggerMessage(Level = LogLevel.Error, Message = "API keys not reloaded, the keys in force stay: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API key is in force ({Path} holds none): every /api request is refused until it does")]
    private static partial void LogNoKeys(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watching {Path} for key changes failed ({Reason}); reading it again")]
    private static partial void LogWatchFailed(ILogger logger, string path, string reason);
}
