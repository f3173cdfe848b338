using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Simulation;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Hosting;

/// <summary>Start-up checks for the smaller option sections; each failure names its configuration key.</summary>
internal sealed class OptionsValidators :
    IValidateOptions<UplinkOptions>,
    IValidateOptions<PipelineOptions>,
    IValidateOptions<SimulationOptions>,
    IValidateOptions<SiloOptions>,
    IValidateOptions<InfluxOptions>,
    IValidateOptions<StorageOptions>,
    IValidateOptions<Twins.TwinOptions>,
    IValidateOptions<Telemetry.Grains.Alerts.AlertsOptions>,
    IValidateOptions<QualityRegistryOptions>,
    IValidateOptions<ClockOptions>,
    IValidateOptions<ShutdownOptions>
{
    public ValidateOptionsResult Validate(string? name, UplinkOptions options) => Check(
        (options.MaxFutureSkew >= TimeSpan.Zero, $"Uplink:MaxFutureSkew must not be negative (was {options.MaxFutureSkew})."),
        (options.MaxAge > TimeSpan.Zero, $"Uplink:MaxAge must be positive (was {options.MaxAge})."),
        (options.AckInterval >= TimeSpan.Zero && options.AckInterval <= TimeSpan.FromSeconds(1),
            $"Uplink:AckInterval must be between 0 and 1 s, as the contract promises acks within a second (was {options.AckInterval})."),
        (options.RateLimitPerSecond > 0, $"Uplink:RateLimitPerSecond must be positive (was {options.RateLimitPerSecond})."),
        (options.RateLimitBurst >= 1, $"Uplink:RateLimitBurst must be at least 1 (was {options.RateLimitBurst})."),
        (options.BirthRateLimitPerHour > 0, $"Uplink:BirthRateLimitPerHour must be positive (was {options.BirthRateLimitPerHour})."),
        (options.BirthRateLimitBurst >= 1, $"Uplink:BirthRateLimitBurst must be at least 1 (was {options.BirthRateLimitBurst})."),
        (options.MaxCustomMetrics is >= 0 and <= 1000, $"Uplink:MaxCustomMetrics must be between 0 and 1000 (was {options.MaxCustomMetrics})."));

    public ValidateOptionsResult Validate(string? name, PipelineOptions options) => Check(
        (options.Partitions is >= 1 and <= 256, $"Pipeline:Partitions must be between 1 and 256 (was {options.Partitions})."),
        (options.ChannelCapacity >= 1, $"Pipeline:ChannelCapacity must be at least 1 (was {options.ChannelCapacity})."),
        (options.MaxRoundMessages >= 1, $"Pipeline:MaxRoundMessages must be at least 1 (was {options.MaxRoundMessages})."),
        (options.GrainAttempts >= 1, $"Pipeline:GrainAttempts must be at least 1 (was {options.GrainAttempts})."),
        (options.RetryDelay > TimeSpan.Zero && options.RetryDelay <= options.MaxRetryDelay,
            $"Pipeline:RetryDelay must be positive and at most Pipeline:MaxRetryDelay (was {options.RetryDelay}, {options.MaxRetryDelay})."),
        (options.MaxRetryDelay <= TimeSpan.FromMinutes(5), $"Pipeline:MaxRetryDelay must be at most 5 minutes (was {options.MaxRetryDelay})."),
        (options.MaxHeldMessages >= 1, $"Pipeline:MaxHeldMessages must be at least 1 (was {options.MaxHeldMessages})."),
        (options.FullPartitionWarning > TimeSpan.Zero && options.FullPartitionWarning <= options.UnhealthyAfter,
            $"Pipeline:FullPartitionWarning must be positive and at most Pipeline:UnhealthyAfter (was {options.FullPartitionWarning}, {options.UnhealthyAfter})."),
        (options.ClockSuspectDevices >= 2, $"Pipeline:ClockSuspectDevices must be at least 2, or one device's wrong clock would hold its messages forever (was {options.ClockSuspectDevices})."),
        (options.ClockSuspectWindow > TimeSpan.Zero, $"Pipeline:ClockSuspectWindow must be positive (was {options.ClockSuspectWindow})."),
        (options.MaxServiceClockError > TimeSpan.Zero, $"Pipeline:MaxServiceClockError must be positive (was {options.MaxServiceClockError})."),
        (options.DrainTimeout > TimeSpan.Zero, $"Pipeline:DrainTimeout must be positive (was {options.DrainTimeout})."),
        (options.BirthWait >= TimeSpan.Zero && options.BirthWait <= TimeSpan.FromMinutes(1),
            $"Pipeline:BirthWait must be between 0 and 1 minute (was {options.BirthWait})."));

    public ValidateOptionsResult Validate(string? name, SimulationOptions options) => Check(
        (options.Devices is >= 0 and <= 100_000, $"Simulation:Devices (--simulate) must be between 0 and 100000 (was {options.Devices})."),
        (options.Backfill >= TimeSpan.Zero && options.Backfill < TimeSpan.FromDays(30),
            $"Simulation:Backfill must be between 0 and 30 days, inside the accepted time window (was {options.Backfill})."),
        (options.CatchUp > TimeSpan.Zero, $"Simulation:CatchUp must be positive (was {options.CatchUp})."),
        (options.FaultsWithin > TimeSpan.Zero, $"Simulation:FaultsWithin must be positive (was {options.FaultsWithin})."),
        (options.Tick > TimeSpan.Zero, $"Simulation:Tick must be positive (was {options.Tick})."),
        (options.ResendAfter > TimeSpan.Zero, $"Simulation:ResendAfter must be positive (was {options.ResendAfter})."));

    public ValidateOptionsResult Validate(string? name, SiloOptions options) => Check(
        (options.SiloPort is >= 1 and <= 65535, $"Orleans:SiloPort must be between 1 and 65535 (was {options.SiloPort})."),
        (options.GatewayPort is >= 1 and <= 65535, $"Orleans:GatewayPort must be between 1 and 65535 (was {options.GatewayPort})."),
        (options.ResponseTimeout >= TimeSpan.FromSeconds(1) && options.ResponseTimeout <= TimeSpan.FromMinutes(5),
            $"Orleans:ResponseTimeout must be between 1 s and 5 minutes (was {options.ResponseTimeout})."));

    public ValidateOptionsResult Validate(string? name, InfluxOptions options) => Check(
        (options.Url.Length == 0 || (Uri.TryCreate(options.Url, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"),
            $"Influx:Url must be an absolute http(s) address such as http://127.0.0.1:8086, or empty for the file store (was '{options.Url}')."),
        (Enum.IsDefined(options.ApiVersion), $"Influx:ApiVersion must be V1 or V2 (was {options.ApiVersion})."),
        (options.Url.Length == 0 || options.ApiVersion != InfluxApiVersion.V1 || options.Database.Length > 0, "Influx:Database is required with Influx:ApiVersion=V1."),
        (options.Url.Length == 0 || options.ApiVersion != InfluxApiVersion.V2 || (options.Bucket.Length > 0 && options.Org.Length > 0),
            "Influx:Bucket and Influx:Org are required with Influx:ApiVersion=V2."),
        (options.MaxBatchLines is >= 1 and <= 100_000, $"Influx:MaxBatchLines must be between 1 and 100000 (was {options.MaxBatchLines})."),
        (options.Writers is >= 1 and <= 16, $"Influx:Writers must be between 1 and 16 (was {options.Writers})."),
        (options.RequestTimeout > TimeSpan.Zero, $"Influx:RequestTimeout must be positive (was {options.RequestTimeout})."),
        (options.Attempts >= 1, $"Influx:Attempts must be at least 1 (was {options.Attempts})."),
        (options.RetryDelay > TimeSpan.Zero && options.RetryDelay <= options.MaxRetryDelay,
            $"Influx:RetryDelay must be positive and at most Influx:MaxRetryDelay (was {options.RetryDelay})."));

    public ValidateOptionsResult Validate(string? name, StorageOptions options) => Check(
        (!string.IsNullOrWhiteSpace(options.DataDirectory), "Storage:DataDirectory must not be empty."),
        (options.QueueCapacity >= 1, $"Storage:QueueCapacity must be at least 1 (was {options.QueueCapacity})."));

    public ValidateOptionsResult Validate(string? name, Twins.TwinOptions options) => Check(
        (Enum.IsDefined(options.Store), $"Twins:Store must be Sqlite, Redis or Memory (was {options.Store})."),
        (options.Store != Twins.TwinStore.Redis || options.Redis.Length > 0, "Twins:Redis (a connection string such as 127.0.0.1:6379) is required with Twins:Store=Redis."),
        (options.RedisTimeout >= TimeSpan.FromMilliseconds(100) && options.RedisTimeout <= TimeSpan.FromMinutes(1),
            $"Twins:RedisTimeout must be between 100 ms and 1 minute (was {options.RedisTimeout})."),
        (options.CollectionAge >= TimeSpan.FromMinutes(1) && options.CollectionAge <= TimeSpan.FromDays(1),
            $"Twins:CollectionAge must be between 1 minute (Orleans' collection quantum) and 1 day (was {options.CollectionAge})."),
        (options.MaxResidentTwins == 0 || options.MaxResidentTwins is >= 100 and <= 10_000_000,
            $"Twins:MaxResidentTwins must be 0 (sized from memory) or between 100 and 10000000 (was {options.MaxResidentTwins})."),
        (options.ShedAtMemoryPercent == 0 || options.ShedAtMemoryPercent is >= 20 and <= 100,
            $"Twins:ShedAtMemoryPercent must be 0 (off) or between 20 and 100 (was {options.ShedAtMemoryPercent})."));

    public ValidateOptionsResult Validate(string? name, ClockOptions options) => Check(
        (options.Offset.Duration() <= TimeSpan.FromDays(1), $"Clock:Offset is for fault drills and must be within ±1 day (was {options.Offset})."));

    public ValidateOptionsResult Validate(string? name, ShutdownOptions options) => Check(
        (options.Timeout >= TimeSpan.FromSeconds(1) && options.Timeout <= TimeSpan.FromMinutes(10),
            $"Shutdown:Timeout must be between 1 s and 10 minutes (was {options.Timeout})."));

    public ValidateOptionsResult Validate(string? name, Telemetry.Grains.Alerts.AlertsOptions options) => Check(
        (options.Sla.Critical > TimeSpan.Zero, $"Alerts:Sla:Critical must be positive (was {options.Sla.Critical})."),
        (options.Sla.Warning > TimeSpan.Zero, $"Alerts:Sla:Warning must be positive (was {options.Sla.Warning})."),
        (options.Sla.Info is null || options.Sla.Info > TimeSpan.Zero, $"Alerts:Sla:Info must be positive when set (was {options.Sla.Info})."),
        (options.Sla.Critical <= SlaOptions.Longest && options.Sla.Warning <= SlaOptions.Longest && !(options.Sla.Info > SlaOptions.Longest),
            "Alerts:Sla values must not exceed 365 days."),
        (AlertLocales.TryNormalize(options.DefaultLocale, out _),
            $"Alerts:DefaultLocale must be one of {string.Join(", ", AlertLocales.All)} (was '{options.DefaultLocale}')."));

    public ValidateOptionsResult Validate(string? name, QualityRegistryOptions options) => Check(
        [.. options.KnownModels.Select((g, i) => (IsGlob(g, allowSlash: false), $"Quality:KnownModels:{i} must be a glob of A-Z a-z 0-9 . _ - * ? (was '{g}')."))
            .Concat(options.KnownBatches.Select((g, i) => (IsGlob(g, allowSlash: true), $"Quality:KnownBatches:{i} must be a glob of A-Z a-z 0-9 . _ - * ? and at most one / (was '{g}').")))]);

    /// <summary>A glob over model or batch ids: their characters, the wildcards, and for batches one '/' between
    /// a model glob and a batch glob.</summary>
    private static bool IsGlob(string glob, bool allowSlash) =>
        glob.Length is > 0 and <= 129
        && glob.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '*' or '?' || (allowSlash && c == '/'))
        && glob.Count(c => c == '/') <= 1;

    private static ValidateOptionsResult Check(params (bool Ok, string Failure)[] rules)
    {
        var failures = rules.Where(r => !r.Ok).Select(r => r.Failure).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
