using Microsoft.Extensions.Options;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Hosting;
using Telemetry.Ingest.Api;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Pipeline;
using Telemetry.Ingest.Simulation;
using Telemetry.Ingest.Storage;
using Telemetry.Ingest.Twins;
using Orleans.Runtime.Hosting;
using Orleans.Hosting;
using Telemetry.Ingest.Uplink;
using Telemetry.Models.Wear;

namespace Telemetry.Ingest.Hosting;

/// <summary>One extension per area, so <c>Program.cs</c> reads as the list of what the service is.</summary>
internal static partial class TelemetryHostingExtensions
{
    /// <summary>Command-line shortcuts: <c>--simulate N</c> is <c>Simulation:Devices=N</c>.</summary>
    public static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--simulate"] = $"{SimulationOptions.SectionName}:{nameof(SimulationOptions.Devices)}",
    };

    public static WebApplicationBuilder AddTelemetryOptions(this WebApplicationBuilder builder)
    {
        // Clock:Offset shifts the service's clock for fault drills (a service running slow); normally the system clock.
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<ClockOptions>>().Value.Offset is { } offset && offset != TimeSpan.Zero
            ? new OffsetTimeProvider(offset)
            : TimeProvider.System);
        builder.Services.AddSingleton<IValidateOptions<ClockOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddSingleton<IValidateOptions<ShutdownOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddOptionsWithValidateOnStart<ClockOptions>().BindConfiguration(ClockOptions.SectionName);
        builder.Services.AddOptionsWithValidateOnStart<ShutdownOptions>().BindConfiguration(ShutdownOptions.SectionName);
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) => host.ShutdownTimeout = shutdown.Value.Timeout);
        builder.Services.AddSingleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>();
        builder.Services.AddSingleton<OptionsValidators>();
        builder.Services.AddSingleton<IValidateOptions<UplinkOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddSingleton<IValidateOptions<PipelineOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddSingleton<IValidateOptions<SimulationOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddSingleton<IValidateOptions<SiloOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddSingleton<IValidateOptions<SiloOptions>, ClusterValidator>();
        builder.Services.AddOptionsWithValidateOnStart<BrokerOptions>().BindConfiguration(BrokerOptions.SectionName);
        builder.Services.AddOptionsWithValidateOnStart<UplinkOptions>().BindConfiguration(UplinkOptions.SectionName);
        builder.Services.AddOptionsWithValidateOnStart<PipelineOptions>().BindConfiguration(PipelineOptions.SectionName)
            .PostConfigure<IOptions<BrokerOptions>>((pipeline, broker) => pipeline.SharedSubscription = broker.Value.SharedGroup.Length > 0);
        builder.Services.AddOptionsWithValidateOnStart<SimulationOptions>().BindConfiguration(SimulationOptions.SectionName);
        builder.Services.AddOptionsWithValidateOnStart<SiloOptions>().BindConfiguration(SiloOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<InfluxOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddSingleton<IValidateOptions<StorageOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddOptionsWithValidateOnStart<InfluxOptions>().BindConfiguration(InfluxOptions.SectionName);
        builder.Services.AddOptionsWithValidateOnStart<StorageOptions>().BindConfiguration(StorageOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<TwinOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddOptionsWithValidateOnStart<TwinOptions>().BindConfiguration(TwinOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<QualityRegistryOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddOptionsWithValidateOnStart<QualityRegistryOptions>().BindConfiguration(QualityRegistryOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<Telemetry.Grains.Alerts.AlertsOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        builder.Services.AddOptionsWithValidateOnStart<Telemetry.Grains.Alerts.AlertsOptions>().BindConfiguration(Telemetry.Grains.Alerts.AlertsOptions.SectionName);
        return builder;
    }

    /// <summary>The embedded broker, when <c>Broker:Mode</c> is Embedded. Registered first so it is up
    /// before any client connects.</summary>
    public static WebApplicationBuilder AddTelemetryBroker(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<BrokerSecrets>();
        builder.Services.AddSingleton<BrokerCounters>();
        builder.Services.AddHostedService<EmbeddedBroker>();
        builder.Services.AddSingleton<MqttClientOptionsFactory>();
        return builder;
    }

    /// <summary>
    /// A silo that joins others: its name and the service's (Orleans:ClusterId, Orleans:ServiceId), and the address the
    /// others reach it at.
    /// </summary>
    private static void ConfigureCluster(ISiloBuilder orleans, SiloOptions silo, IConfiguration configuration)
    {
        orleans.Configure<Orleans.Configuration.ClusterOptions>(o =>
        {
            o.ClusterId = silo.ClusterId;
            o.ServiceId = silo.ServiceId;
        });
        if (silo.AdvertisedAddress.Length == 0)
        {
            // Resolved here rather than by Orleans, which takes the host name's smallest IPv4 address: 127.0.1.1 on Debian.
            // The validator has refused a name with no other address; this throws only if the name changed since.
            var (hostAddress, problem) = ClusterRequirements.HostAddress();
            orleans.ConfigureEndpoints(hostAddress ?? throw new InvalidOperationException($"Orleans:AdvertisedAddress is required here: {problem}"),
                silo.SiloPort, silo.GatewayPort, listenOnAnyHostAddress: true);
        }
        else if (System.Net.IPAddress.TryParse(silo.AdvertisedAddress, out var address))
        {
            orleans.ConfigureEndpoints(address, silo.SiloPort, silo.GatewayPort, listenOnAnyHostAddress: true);
        }
        else
        {
            orleans.ConfigureEndpoints(silo.AdvertisedAddress, silo.SiloPort, silo.GatewayPort, listenOnAnyHostAddress: true);
        }
    }

    /// <summary>
    /// The keyed Redis connections that Orleans' providers (clustering, reminders) ask for by <c>ServiceKey</c>, made from
    /// <c>ConnectionStrings:{key}</c>, and a start-up gate that waits until each provider's Redis answers through the
    /// connection that provider will use: Orleans sets up its membership table once at start and exits when Redis is not
    /// there.
    /// </summary>
    private static void AddProviderConnections(IServiceCollection services, SiloOptions silo, IConfiguration configuration)
    {
        var providers = new[] { silo.Clustering, silo.Reminders }.Where(p => p.Configured).ToArray();
        var keys = providers.Select(p => p.ServiceKey).Where(k => k.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        foreach (var key in keys)
        {
            services.AddKeyedSingleton<StackExchange.Redis.IConnectionMultiplexer>(key, (_, _) =>
            {
                var options = StackExchange.Redis.ConfigurationOptions.Parse(configuration.GetConnectionString(key) ?? string.Empty);
                // Connects in the background and reconnects by itself after a Redis outage.
                options.AbortOnConnectFail = false;
                return StackExchange.Redis.ConnectionMultiplexer.Connect(options);
            });
        }

        // A provider without a ServiceKey makes its own connection from its connection string when the silo starts.
        var connectionStrings = providers.Where(p => p.ServiceKey.Length == 0)
            .Select(p => p.ResolveConnectionString(configuration.GetConnectionString))
            .OfType<string>().Where(c => c.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        if (keys.Length + connectionStrings.Length == 0)
        {
            return;
        }

        // Registered before the silo, so that it starts (and waits) first: hosted services start in order.
        services.AddHostedService(sp => new OrleansStoreGate(
        [
            .. keys.Select(key => new OrleansStoreGate.Store(
                $"{Endpoint(configuration.GetConnectionString(key)!)} (ConnectionStrings:{key})",
                () => sp.GetRequiredKeyedService<StackExchange.Redis.IConnectionMultiplexer>(key), Owned: false)),
            .. connectionStrings.Select(connectionString => new OrleansStoreGate.Store(Endpoint(connectionString), () =>
            {
                var options = StackExchange.Redis.ConfigurationOptions.Parse(connectionString);
                options.AbortOnConnectFail = false;
                return StackExchange.Redis.ConnectionMultiplexer.Connect(options);
            }, Owned: true)),
        ], sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<OrleansStoreGate>>()));

        static string Endpoint(string connectionString) =>
            StackExchange.Redis.ConfigurationOptions.Parse(connectionString).EndPoints.FirstOrDefault()?.ToString() ?? "Redis";
    }

    /// <summary>The Orleans silo (localhost clustering; twins in SQLite by default, or Redis) and the grains' services.</summary>
    public static WebApplicationBuilder AddTelemetrySilo(this WebApplicationBuilder builder)
    {
        var silo = builder.Configuration.GetSection(SiloOptions.SectionName).Get<SiloOptions>() ?? new SiloOptions();
        var twins = builder.Configuration.GetSection(TwinOptions.SectionName).Get<TwinOptions>() ?? new TwinOptions();
        var storage = builder.Configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        // Checked before Orleans is configured: its providers resolve their Redis connections as the host builds, so a
        // missing key would otherwise surface as a stack trace from deep inside the membership table.
        var clusterFailures = new ClusterValidator(builder.Configuration).Validate(null, silo);
        if (clusterFailures.Failed)
        {
            throw new OptionsValidationException(SiloOptions.SectionName, typeof(SiloOptions), clusterFailures.Failures);
        }

        AddProviderConnections(builder.Services, silo, builder.Configuration);
        // Orleans' watchdog is internal, hence its name; if a later Orleans renames it, its logger is the default again.
        if (Type.GetType("Orleans.Runtime.Watchdog, Orleans.Runtime") is { } watchdog)
        {
            // Closed over the watchdog's type, this wins over the open ILogger<> for it alone: see the class for why.
            builder.Services.AddSingleton(typeof(ILogger<>).MakeGenericType(watchdog), typeof(OrleansWatchdogLogger<>).MakeGenericType(watchdog));
        }

        builder.UseOrleans(orleans =>
        {
            if (silo.Clustered)
            {
                // Membership, and reminders when configured, come from Orleans' own reading of Orleans:Clustering and
                // Orleans:Reminders (Microsoft.Orleans.Clustering.Redis, .Reminders.Redis); this adds what it leaves out.
                ConfigureCluster(orleans, silo, builder.Configuration);
            }
            else
            {
                orleans.UseLocalhostClustering(silo.SiloPort, silo.GatewayPort);
            }

            // A hung twin store holds a round at most this long; the pipeline then holds and retries its messages.
            orleans.Configure<Orleans.Configuration.SiloMessagingOptions>(o => o.ResponseTimeout = silo.ResponseTimeout);
            if (!silo.Clustered)
            {
                // One silo owns every activation and the whole directory, so a cache of where grains live only repeats
                // the directory: Orleans' default LRU cache kept an entry for every twin (about 330 bytes each, 33 MB
                // with 100,000 twins resident; docs/performance.md). A cluster keeps it: there it saves a hop.
                orleans.Configure<Orleans.Configuration.GrainDirectoryOptions>(o =>
                    o.CachingStrategy = Orleans.Configuration.GrainDirectoryOptions.CachingStrategyType.None);
            }

            // Device twins only: the alert index and the quality grains are few and keep Orleans' default.
            orleans.Configure<Orleans.Configuration.GrainCollectionOptions>(o =>
            {
                o.ClassSpecificCollectionAge[typeof(DeviceGrain).FullName!] = twins.CollectionAge;
                o.EnableActivationSheddingOnMemoryPressure = twins.ShedAtMemoryPercent > 0;
                if (twins.ShedAtMemoryPercent > 0)
                {
                    o.MemoryUsageLimitPercentage = twins.ShedAtMemoryPercent;
                    o.MemoryUsageTargetPercentage = twins.ShedAtMemoryPercent - 10;
                }
            });
            orleans.Services.AddSingleton(sp =>
            {
                // What the GC may use: a container's limit or DOTNET_GCHeapHardLimit when set, else the machine's memory.
                var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
                var max = twins.ResolveMaxResidentTwins(available);
                var source = twins.MaxResidentTwins > 0 ? "Twins:MaxResidentTwins"
                    : available > 0 ? "sized from memory" : "the GC did not say how much memory it may use: the largest self-sized cap";
                var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Telemetry.Twins");
                LogResidentTwinCap(logger, max, source, available / 1048576);
                return new ResidentTwins(max, sp.GetRequiredService<TimeProvider>());
            });
            // Options, metrics, the twin sweeper, the exposure collector and the alert index's wake-up: the grains' own.
            orleans.AddTelemetryGrains();
            switch (twins.Store)
            {
                case TwinStore.Memory:
                    orleans.AddMemoryGrainStorage(DeviceGrain.StorageName);
                    break;
                case TwinStore.Redis:
                    orleans.Services.AddRedisGrainStorage(DeviceGrain.StorageName, options =>
                        options.ConfigurationOptions = RedisTwinMonitor.ConnectionOptions(twins));
                    // Orleans' own binary format, as the SQLite store uses: the default JSON serializer skips private
                    // fields, so a twin read back from Redis lost its message progress (dedupe and the acks devices wait
                    // for) whenever its grain was reactivated, after a restart or a failed write.
                    orleans.Services.AddOptions<Orleans.Persistence.RedisStorageOptions>(DeviceGrain.StorageName)
                        .Configure<Orleans.Serialization.Serializer>((options, serializer) => options.GrainStorageSerializer = new Orleans.Storage.OrleansGrainStorageSerializer(serializer));
                    builder.Services.AddHostedService<RedisTwinMonitor>();
                    break;
                default:
                    orleans.Services.AddGrainStorage(DeviceGrain.StorageName, (sp, _) => new SqliteGrainStorage(
                        Path.Combine(storage.DataDirectory, "twins.db"), sp.GetRequiredService<Orleans.Serialization.Serializer>(),
                        sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SqliteGrainStorage>>()));
                    break;
            }
        });
        builder.Services.AddSingleton<IWearModel>(sp => CreateWearModel(
            builder.Configuration["Models:Wear"], sp.GetRequiredService<ILoggerFactory>().CreateLogger("Telemetry.Models")));
        builder.Services.AddSingleton<IValidateOptions<OwnRulOptions>, OwnRulOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<OwnRulOptions>().BindConfiguration(OwnRulOptions.SectionName);
        builder.Services.AddSingleton(sp => CreateOwnRulModels(
            sp.GetRequiredService<IOptions<OwnRulOptions>>().Value, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Telemetry.Models")));
        return builder;
    }

    /// <summary>The brand's own remaining-life models, said in the log with the columns each reads: a column that is
    /// neither a catalogue metric nor one the rows derive is warned of, as twins sending no such metric get no row.</summary>
    private static OwnRulModels CreateOwnRulModels(OwnRulOptions options, ILogger logger)
    {
        var models = options.Load();
        foreach (var own in new[] { models.Shoe, models.Band }.OfType<Telemetry.Models.Rul.OwnRulModel>())
        {
            LogOwnRulModel(logger, own.Kind, own.Version, own.Columns);
            foreach (var column in own.Columns.Where(c => !MetricCatalogue.Contains(c) && c is not ("pace_s_per_km" or "wearer_kg" or "rated_mah")))
            {
                LogOwnRulUnknownColumn(logger, own.Kind, column);
            }
        }

        return models;
    }

    /// <summary>
    /// The wear model: the learned models shipped in <c>models/trained/</c> (default, <c>Models:Wear=Learned</c>),
    /// or the transparent rule model (<c>Models:Wear=Rules</c>). Missing artifacts fall back to the rules, loudly.
    /// </summary>
    private static IWearModel CreateWearModel(string? choice, ILogger logger)
    {
        if (string.Equals(choice, "Rules", StringComparison.OrdinalIgnoreCase))
        {
            return new RuleWearModel();
        }

        if (choice is not null && !string.Equals(choice, "Learned", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Models:Wear must be Learned or Rules (was '{choice}').");
        }

        var directory = Telemetry.Models.Learning.LearnedWearModel.DefaultDirectory;
        try
        {
            return Telemetry.Models.Learning.LearnedWearModel.Load(directory);
        }
        catch (FileNotFoundException e)
        {
            LogNoArtifacts(logger, e.Message);
            return new RuleWearModel();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "At most {Max} device twins resident ({Source}; the GC may use {AvailableMiB} MiB)")]
    private static partial void LogResidentTwinCap(ILogger logger, int max, string source, long availableMiB);

    [LoggerMessage(Level = LogLevel.Information, Message = "The {Kind} twins' remaining life comes from the brand's own model {Version}, on weekly rows of {Columns}")]
    private static partial void LogOwnRulModel(ILogger logger, string kind, string version, string[] columns);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The brand's own {Kind} model reads '{Column}', which is not a metric of the uplink catalogue: twins that never send it get no rows, and the wear model's remaining life is served to them")]
    private static partial void LogOwnRulUnknownColumn(ILogger logger, string kind, string column);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Learned wear models not loaded, using the rule model: {Reason}")]
    private static partial void LogNoArtifacts(ILogger logger, string reason);

    /// <summary>The MQTT consumer, the pipeline, and the outbox for acks, errors and alerts.</summary>
    public static WebApplicationBuilder AddTelemetryIngest(this WebApplicationBuilder builder)
    {
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<IngestCounters>();
        builder.Services.AddSingleton<AlertFeed>();
        builder.Services.AddSingleton<MqttOutbox>();
        builder.Services.AddSingleton<IDeviceReplies>(sp => sp.GetRequiredService<MqttOutbox>());
        builder.Services.AddSingleton<IAlertSink, MqttAlertSink>();
        builder.Services.AddSingleton<ClusterFeedRelay>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ClusterFeedRelay>());
        builder.Services.AddSingleton<IValidateOptions<Telemetry.Grains.Ingest.DedupeOptions>, Telemetry.Grains.Ingest.DedupeOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<Telemetry.Grains.Ingest.DedupeOptions>().BindConfiguration(Telemetry.Grains.Ingest.DedupeOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<Webhooks.WebhooksOptions>, Webhooks.WebhooksOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<Webhooks.WebhooksOptions>().BindConfiguration(Webhooks.WebhooksOptions.SectionName);
        builder.Services.AddSingleton(sp => new Webhooks.WebhookQueue(
            Path.Combine(sp.GetRequiredService<IOptions<StorageOptions>>().Value.DataDirectory, "webhooks.db"), sp.GetRequiredService<TimeProvider>().GetUtcNow()));
        builder.Services.AddSingleton<Webhooks.WebhookCounters>();
        builder.Services.AddHttpClient(Webhooks.WebhookSender.HttpClientName);
        builder.Services.AddSingleton<Webhooks.WebhookSender>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Webhooks.WebhookSender>());
        builder.Services.AddSingleton<Telemetry.Grains.Quality.IQualitySink, MqttQualitySink>();
        builder.Services.AddSingleton<QualityRegistry>();
        builder.Services.AddSingleton<IDeviceTwins, DeviceGrainTwins>();
        builder.Services.AddSingleton<SubscriberConnection>();
        builder.Services.AddSingleton<IngestPipeline>();
        builder.Services.AddSingleton<MqttIngestService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttOutbox>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<IngestPipeline>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttIngestService>());
        builder.Services.AddSingleton<ComponentHealth>();
        builder.Services.AddSingleton<Summary.ActivityTally>();
        builder.Services.AddSingleton<IValidateOptions<Summary.LogSummaryOptions>, Summary.LogSummaryOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<Summary.LogSummaryOptions>().BindConfiguration(Summary.LogSummaryOptions.SectionName);
        builder.Services.AddHostedService<Summary.LogSummary>();
        builder.Services.AddHealthChecks().AddCheck<MqttHealthCheck>("mqtt").AddCheck<ComponentHealthCheck>("components");
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
        return builder;
    }

    /// <summary>
    /// The durable store of readings: InfluxDB when <c>Influx:Url</c> is set (with its spill file), otherwise
    /// a line-protocol file per day under the data directory.
    /// </summary>
    public static WebApplicationBuilder AddTelemetryStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<StorageCounters>();
        var influx = builder.Configuration.GetSection(InfluxOptions.SectionName).Get<InfluxOptions>() ?? new InfluxOptions();
        if (string.IsNullOrWhiteSpace(influx.Url))
        {
            builder.Services.AddSingleton<LineFileStore>();
            builder.Services.AddSingleton<IReadingStore>(sp => sp.GetRequiredService<LineFileStore>());
        }
        else
        {
            // Every InfluxDB call carries its own Influx:RequestTimeout; HttpClient's 100 s default must never
            // be the one that applies (it once held start-up for 100 s and then stopped the host).
            builder.Services.AddHttpClient(nameof(InfluxStore), http => http.Timeout = Timeout.InfiniteTimeSpan);
            builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<InfluxStore>(
                sp, sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(InfluxStore))));
            builder.Services.AddSingleton<IReadingStore>(sp => sp.GetRequiredService<InfluxStore>());
            builder.Services.AddHostedService(sp => sp.GetRequiredService<InfluxStore>());
        }

        return builder;
    }

    /// <summary>The demo fleet; idle unless <c>--simulate N</c> is given.</summary>
    public static WebApplicationBuilder AddTelemetrySimulation(this WebApplicationBuilder builder)
    {
        builder.Services.AddHostedService<FleetSimulator>();
        return builder;
    }
}
