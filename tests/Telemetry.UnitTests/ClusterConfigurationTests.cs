using Microsoft.Extensions.Configuration;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Mqtt;
using Telemetry.Ingest.Twins;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Start-up checks of cluster mode (each failure names its key) and the subscriber's topics in a shared group.</summary>
public sealed class ClusterConfigurationTests
{
    private static readonly Dictionary<string, string> ConnectionStrings = new(StringComparer.Ordinal) { ["redis"] = "127.0.0.1:6379" };

    private static SiloOptions Cluster() => new()
    {
        ClusterId = "telemetry",
        ServiceId = "telemetry",
        Clustering = new OrleansProvider { ProviderType = "Redis", ServiceKey = "redis" },
        Reminders = new OrleansProvider { ProviderType = "Redis", ServiceKey = "redis" },
    };

    private static List<string> Check(SiloOptions silo, TwinStore store = TwinStore.Redis, BrokerMode mode = BrokerMode.External,
        string group = "ingest", bool prefixSet = true) =>
        ClusterRequirements.Check(silo, new TwinOptions { Store = store }, new BrokerOptions { Mode = mode, SharedGroup = group }, prefixSet,
            name => ConnectionStrings.GetValueOrDefault(name));

    [Fact]
    public void ASingleNode_NeedsNothingMore()
    {
        Assert.Empty(ClusterRequirements.Check(new SiloOptions(), new TwinOptions(), new BrokerOptions(), false, _ => null));
        Assert.False(new SiloOptions().Clustered);
    }

    [Fact]
    public void ACompleteCluster_Passes()
    {
        Assert.Empty(Check(Cluster()));
        var reminders = Cluster();
        reminders.Reminders = new OrleansProvider { ProviderType = "Redis", ConnectionString = "127.0.0.1:6379" };
        Assert.Empty(Check(reminders));
    }

    [Fact]
    public void EachMissingKey_IsNamed()
    {
        var failures = Check(new SiloOptions { Clustering = new OrleansProvider { ProviderType = "Redis", ServiceKey = "redis" } },
            TwinStore.Sqlite, BrokerMode.Embedded, group: "", prefixSet: false);

        Assert.Collection(failures,
            f => Assert.StartsWith("Orleans:ClusterId is required", f, StringComparison.Ordinal),
            f => Assert.StartsWith("Orleans:ServiceId is required", f, StringComparison.Ordinal),
            f => Assert.StartsWith("Orleans:Reminders:ProviderType is required", f, StringComparison.Ordinal),
            f => Assert.StartsWith("Twins:Store must be Redis", f, StringComparison.Ordinal),
            f => Assert.StartsWith("Broker:Mode must be External", f, StringComparison.Ordinal),
            f => Assert.StartsWith("Broker:SharedGroup is required", f, StringComparison.Ordinal),
            f => Assert.StartsWith("Broker:ClientIdPrefix must be set", f, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("AdoNet", "redis", "", "Orleans:Clustering:ProviderType must be Redis")]
    [InlineData("Redis", "cache", "", "Orleans:Clustering:ServiceKey names 'cache', but ConnectionStrings:cache is not set")]
    [InlineData("Redis", "", "", "Orleans:Clustering needs its Redis")]
    public void AProviderWithoutItsRedis_IsNamed(string type, string serviceKey, string connectionString, string expected)
    {
        var silo = Cluster();
        silo.Clustering = new OrleansProvider { ProviderType = type, ServiceKey = serviceKey, ConnectionString = connectionString };

        Assert.Contains(Check(silo), f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void RemindersWithoutTheirRedis_AreNamed_EvenOnASingleNode()
    {
        var silo = new SiloOptions { Reminders = new OrleansProvider { ProviderType = "Redis", ConnectionName = "missing" } };

        var failure = Assert.Single(ClusterRequirements.Check(silo, new TwinOptions(), new BrokerOptions(), false, _ => null));
        Assert.StartsWith("Orleans:Reminders:ConnectionName names 'missing'", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void AHostNameThatResolvesToLoopbackOnly_MakesTheAdvertisedAddressRequired()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Twins:Store"] = "Redis",
            ["Broker:Mode"] = "External",
            ["Broker:SharedGroup"] = "ingest",
            ["Broker:ClientIdPrefix"] = "node-a",
            ["ConnectionStrings:redis"] = "127.0.0.1:6379",
        }).Build();
        var loopbackOnly = new ClusterValidator(configuration, () => "this host's name 'vm' resolves to loopback only (127.0.0.1)");

        var result = loopbackOnly.Validate(null, Cluster());

        Assert.True(result.Failed);
        Assert.StartsWith("Orleans:AdvertisedAddress is required here: this host's name 'vm' resolves to loopback only", Assert.Single(result.Failures!), StringComparison.Ordinal);
        var given = Cluster();
        given.AdvertisedAddress = "127.0.0.1";
        Assert.True(loopbackOnly.Validate(null, given).Succeeded);
        Assert.True(new ClusterValidator(configuration, () => null).Validate(null, Cluster()).Succeeded);
    }

    /// <summary>Review of b8080b5: start-up accepted a host name with any non-loopback address, and Orleans then advertised
    /// the smallest IPv4 one, 127.0.1.1 on Debian. The silo is now given the address this chooses.</summary>
    [Theory]
    [InlineData("127.0.1.1,192.168.1.20", "192.168.1.20")]
    [InlineData("2001:db8::5,127.0.1.1,10.0.0.7,10.0.0.3", "10.0.0.7")]
    [InlineData("::1,fe80::1,2001:db8::5,127.0.0.1", "2001:db8::5")]
    [InlineData("fe80::1,::1", "fe80::1")]
    [InlineData("127.0.1.1,::1,::ffff:127.0.0.1", null)]
    public void TheAdvertisedAddress_IsTheHostNamesFirstIPv4AddressOffLoopback_ElseIPv6(string resolved, string? expected)
    {
        var address = ClusterRequirements.AdvertisableAddress(resolved.Split(',').Select(System.Net.IPAddress.Parse));

        Assert.Equal(expected, address?.ToString());
    }

    [Fact]
    public void AProvidersConnectionString_IsFoundHoweverItIsGiven()
    {
        Assert.Equal("127.0.0.1:6379", new OrleansProvider { ProviderType = "Redis", ServiceKey = "redis" }.ResolveConnectionString(n => ConnectionStrings.GetValueOrDefault(n)));
        Assert.Equal("127.0.0.1:6379", new OrleansProvider { ProviderType = "Redis", ConnectionName = "redis" }.ResolveConnectionString(n => ConnectionStrings.GetValueOrDefault(n)));
        Assert.Equal("10.0.0.1:6379", new OrleansProvider { ProviderType = "Redis", ConnectionString = "10.0.0.1:6379" }.ResolveConnectionString(_ => null));
        Assert.Null(new OrleansProvider { ProviderType = "Redis" }.ResolveConnectionString(_ => null));
    }

    /// <summary>Review of b8080b5: a ConnectionName was preferred to a ConnectionString, so start-up gated (and checked)
    /// another Redis than the one Orleans then used: its provider builder takes the ConnectionString first.</summary>
    [Fact]
    public void AConnectionStringGivenDirectly_WinsOverAConnectionName_AsInOrleans()
    {
        var both = new OrleansProvider { ProviderType = "Redis", ConnectionString = "10.0.0.1:6379", ConnectionName = "redis" };

        Assert.Equal("10.0.0.1:6379", both.ResolveConnectionString(n => ConnectionStrings.GetValueOrDefault(n)));
        var silo = Cluster();
        silo.Clustering = new OrleansProvider { ProviderType = "Redis", ConnectionString = "10.0.0.1:6379", ConnectionName = "missing" };
        Assert.Empty(Check(silo));
        Assert.Equal("127.0.0.1:6379", new OrleansProvider { ProviderType = "Redis", ServiceKey = "redis", ConnectionString = "10.0.0.1:6379" }
            .ResolveConnectionString(n => ConnectionStrings.GetValueOrDefault(n)));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("+")]
    [InlineData("#")]
    public void ASharedGroupThatIsNotOneTopicLevel_FailsNamingTheKey(string group)
    {
        var result = new BrokerOptionsValidator().Validate(null, new BrokerOptions { Mode = BrokerMode.External, SharedGroup = group });

        Assert.True(result.Failed);
        Assert.Contains("Broker:SharedGroup must be empty or match", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ASharedGroupOnTheEmbeddedBroker_FailsNamingTheKey()
    {
        var result = new BrokerOptionsValidator().Validate(null, new BrokerOptions { SharedGroup = "ingest" });

        Assert.True(result.Failed);
        Assert.Contains("Broker:SharedGroup needs Broker:Mode External", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Alone_TheSubscriberTakesEveryDeviceFilter_AndProbesOnTheTelemetryFilter()
    {
        var topics = SubscriberTopics.For(new BrokerOptions(), "telemetry-ingest");

        Assert.Equal(["devices/+/birth", "devices/+/telemetry", "devices/+/telemetry/cbor"], topics.Filters);
        Assert.Equal("devices/$probe/telemetry", topics.ProbeTopic);
        Assert.Equal("devices/+/telemetry", topics.ProbeFilter);
        Assert.Empty(topics.Stale);
    }

    [Fact]
    public void InASharedGroup_DeviceFiltersAreShared_AndTheProbeHasATopicOfItsOwn()
    {
        var topics = SubscriberTopics.For(new BrokerOptions { Mode = BrokerMode.External, SharedGroup = "ingest" }, "node-a-ingest");

        Assert.Equal(
            ["$share/ingest/devices/+/birth", "$share/ingest/devices/+/telemetry", "$share/ingest/devices/+/telemetry/cbor", "devices/$probe/node-a-ingest/telemetry"],
            topics.Filters);
        Assert.Equal("devices/$probe/node-a-ingest/telemetry", topics.ProbeTopic);
        Assert.Equal(topics.ProbeTopic, topics.ProbeFilter);
        // A session that had the plain filters before (the same client id, moved into the group) drops them.
        Assert.Equal(["devices/+/birth", "devices/+/telemetry", "devices/+/telemetry/cbor"], topics.Stale);
        // No shared filter matches it, so the broker cannot hand this instance's probe to another.
        Assert.DoesNotContain(topics.Filters.Take(3), f => MQTTnet.MqttTopicFilterComparer.Compare(topics.ProbeTopic, f[("$share/ingest/".Length)..]) == MQTTnet.MqttTopicFilterCompareResult.IsMatch);
    }
}
