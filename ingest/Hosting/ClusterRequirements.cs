using Microsoft.Extensions.Options;
using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Twins;

namespace Telemetry.Ingest.Hosting;

/// <summary>
/// What a cluster needs, checked at start-up so that a half-configured instance says which keys are missing instead of
/// running alone, or joining with state only it can see. Each failure names its key.
/// </summary>
internal static class ClusterRequirements
{
    /// <summary>The only provider type this build carries (Microsoft.Orleans.Clustering.Redis, .Reminders.Redis).</summary>
    public const string Redis = "Redis";

    /// <summary>Every failure, each naming its key; empty when the configuration is complete (or not a cluster).</summary>
    /// <param name="silo">The <c>Orleans</c> section.</param>
    /// <param name="twins">The <c>Twins</c> section.</param>
    /// <param name="broker">The <c>Broker</c> section.</param>
    /// <param name="clientIdPrefixSet">Whether <c>Broker:ClientIdPrefix</c> was given rather than left at its default.</param>
    /// <param name="connectionString">Looks up <c>ConnectionStrings:{name}</c>.</param>
    public static List<string> Check(SiloOptions silo, TwinOptions twins, BrokerOptions broker, bool clientIdPrefixSet, Func<string, string?> connectionString)
    {
        var failures = new List<string>();
        CheckProvider("Clustering", silo.Clustering, connectionString, failures);
        CheckProvider("Reminders", silo.Reminders, connectionString, failures);
        if (!silo.Clustered)
        {
            return failures;
        }

        const string Cluster = "in a cluster (Orleans:Clustering:ProviderType is set)";
        if (string.IsNullOrWhiteSpace(silo.ClusterId))
        {
            failures.Add($"Orleans:ClusterId is required {Cluster}: instances with the same one form the cluster.");
        }

        if (string.IsNullOrWhiteSpace(silo.ServiceId))
        {
            failures.Add($"Orleans:ServiceId is required {Cluster}: it names what stored reminders and state belong to.");
        }

        if (!silo.Reminders.Configured)
        {
            failures.Add($"Orleans:Reminders:ProviderType is required {Cluster} (Redis, like the clustering): the alert index keeps its SLA deadlines on a reminder so that a silo that dies takes none with it.");
        }

        if (twins.Store != TwinStore.Redis)
        {
            failures.Add($"Twins:Store must be Redis {Cluster} (was {twins.Store}): a device's grain moves between instances, and its twin must be where every instance can read it.");
        }

        if (broker.Mode != BrokerMode.External)
        {
            failures.Add($"Broker:Mode must be External {Cluster}: the embedded broker serves one instance, and devices connected to one instance's broker are invisible to the others.");
        }

        if (broker.SharedGroup.Length == 0)
        {
            failures.Add($"Broker:SharedGroup is required {Cluster}: without it every instance takes every message.");
        }

        if (!clientIdPrefixSet)
        {
            failures.Add($"Broker:ClientIdPrefix must be set, to a name of this instance's own that it keeps across restarts, {Cluster}: it names the persistent session holding the messages the broker gave this instance, and two instances with one name would take each other's connection.");
        }

        return failures;
    }

    /// <summary>
    /// The address this host's name gives other hosts: a non-loopback IPv4 address, in the resolver's order, else a
    /// non-loopback IPv6 one (global before link-local); null when the name resolves to loopback only. Orleans, given
    /// the host name, takes its smallest IPv4 address instead, which is 127.0.1.1 on Debian's /etc/hosts even when the
    /// host has another.
    /// </summary>
    public static System.Net.IPAddress? AdvertisableAddress(IEnumerable<System.Net.IPAddress> addresses) =>
        addresses.Where(a => !System.Net.IPAddress.IsLoopback(a) && !(a.IsIPv4MappedToIPv6 && System.Net.IPAddress.IsLoopback(a.MapToIPv4())))
            .OrderBy(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 0 : a.IsIPv6LinkLocal ? 2 : 1)
            .FirstOrDefault();

    /// <summary>This host's name resolved (<see cref="AdvertisableAddress"/>): the address, or why there is none.</summary>
    public static (System.Net.IPAddress? Address, string? Problem) HostAddress()
    {
        var name = System.Net.Dns.GetHostName();
        try
        {
            var addresses = System.Net.Dns.GetHostAddresses(name);
            return AdvertisableAddress(addresses) is { } address
                ? (address, null)
                : (null, $"this host's name '{name}' resolves to loopback only ({string.Join(", ", addresses.Select(a => a.ToString()))})");
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return (null, $"this host's name '{name}' does not resolve ({e.Message})");
        }
    }

    private static void CheckProvider(string section, OrleansProvider provider, Func<string, string?> connectionString, List<string> failures)
    {
        if (!provider.Configured)
        {
            return;
        }

        var key = $"Orleans:{section}";
        if (!string.Equals(provider.ProviderType, Redis, StringComparison.Ordinal))
        {
            failures.Add($"{key}:ProviderType must be Redis, the one this build carries (was '{provider.ProviderType}').");
            return;
        }

        // Orleans' order: a ConnectionString given directly wins over a ConnectionName (OrleansProvider.ResolveConnectionString).
        var named = provider.ServiceKey.Length > 0 ? (Key: "ServiceKey", Name: provider.ServiceKey)
            : provider.ConnectionName.Length > 0 && provider.ConnectionString.Length == 0 ? (Key: "ConnectionName", Name: provider.ConnectionName)
            : (Key: (string?)null, Name: (string?)null);
        if (named.Key is not null)
        {
            if (string.IsNullOrWhiteSpace(connectionString(named.Name!)))
            {
                failures.Add($"{key}:{named.Key} names '{named.Name}', but ConnectionStrings:{named.Name} is not set (a Redis connection string such as 127.0.0.1:6379).");
            }
        }
        else if (string.IsNullOrWhiteSpace(provider.ConnectionString))
        {
            failures.Add($"{key} needs its Redis: {key}:ServiceKey naming a connection string under ConnectionStrings: (such as ServiceKey=redis with ConnectionStrings:redis=127.0.0.1:6379), or {key}:ConnectionString.");
        }
    }
}

/// <summary>Runs <see cref="ClusterRequirements"/> with the <c>Orleans</c> section's validation at start-up.</summary>
/// <param name="configuration">The whole configuration (Twins, Broker, ConnectionStrings).</param>
/// <param name="hostNameProblem">Why this host's name cannot be the advertised address; the DNS lookup by default.</param>
internal sealed class ClusterValidator(IConfiguration configuration, Func<string?>? hostNameProblem = null) : IValidateOptions<SiloOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloOptions options)
    {
        var twins = configuration.GetSection(TwinOptions.SectionName).Get<TwinOptions>() ?? new TwinOptions();
        var broker = configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>() ?? new BrokerOptions();
        var failures = ClusterRequirements.Check(options, twins, broker,
            !string.IsNullOrWhiteSpace(configuration[$"{BrokerOptions.SectionName}:{nameof(BrokerOptions.ClientIdPrefix)}"]),
            configuration.GetConnectionString);
        if (options.Clustered && string.IsNullOrWhiteSpace(options.AdvertisedAddress) && (hostNameProblem ?? HostNameReachesNoOtherHost)() is { } why)
        {
            failures.Add($"Orleans:AdvertisedAddress is required here: {why}, and the other instances would be told to reach this one there. Give an address they can reach (127.0.0.1 only when every instance runs on this host).");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Why this host's name is no address for other hosts (it resolves to loopback only, or not at all); null when it is.</summary>
    private static string? HostNameReachesNoOtherHost() => ClusterRequirements.HostAddress().Problem;
}
