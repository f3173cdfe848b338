namespace Telemetry.Ingest.Hosting;

/// <summary>
/// The Orleans silo hosted in the service. Section <c>Orleans</c>, which Orleans reads too: <c>ClusterId</c>,
/// <c>ServiceId</c> and the providers (<c>Clustering</c>, <c>Reminders</c>) are Orleans' own keys, bound here only so that
/// start-up can check them (<see cref="ClusterRequirements"/>).
/// </summary>
public sealed class SiloOptions
{
    public const string SectionName = "Orleans";

    /// <summary>Silo-to-silo port (on localhost, or on <see cref="AdvertisedAddress"/> in a cluster). Default 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Gateway port for external Orleans clients. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// Longest wait for a grain call's answer (Orleans' own default is 30 s). A twin store that hangs then holds a
    /// round only this long before the pipeline holds its messages for a retry. Default 10 s.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The cluster's name: instances with the same one join each other. Required in a cluster.</summary>
    public string ClusterId { get; set; } = string.Empty;

    /// <summary>The service's name across deployments (what stored reminders belong to). Required in a cluster.</summary>
    public string ServiceId { get; set; } = string.Empty;

    /// <summary>Membership: empty for a single node on localhost clustering, <c>Redis</c> for a cluster.</summary>
    public OrleansProvider Clustering { get; set; } = new();

    /// <summary>Where reminders live: empty for none (SLA deadlines then run on a timer), <c>Redis</c>.</summary>
    public OrleansProvider Reminders { get; set; } = new();

    /// <summary>
    /// The address the other instances reach this silo at, an IP address or a host name (a container's name in
    /// docker-compose). Cluster mode only; empty: the first address of this machine's host name that is not loopback,
    /// IPv4 first (<see cref="ClusterRequirements.AdvertisableAddress"/>). The silo listens on every address.
    /// </summary>
    public string AdvertisedAddress { get; set; } = string.Empty;

    /// <summary>Whether this silo joins a cluster (a clustering provider is configured) instead of running alone.</summary>
    public bool Clustered => !string.IsNullOrWhiteSpace(Clustering.ProviderType);
}

/// <summary>
/// One provider in Orleans' configuration (<c>Orleans:Clustering</c>, <c>Orleans:Reminders</c>): its type and where its
/// connection comes from, as Orleans (and .NET Aspire) read them.
/// </summary>
public sealed class OrleansProvider
{
    /// <summary><c>Redis</c>, or empty for none.</summary>
    public string ProviderType { get; set; } = string.Empty;

    /// <summary>Names a connection string under <c>ConnectionStrings:</c>, from which the service makes the keyed Redis
    /// connection Orleans asks for.</summary>
    public string ServiceKey { get; set; } = string.Empty;

    /// <summary>A Redis connection string given directly.</summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>Names a connection string under <c>ConnectionStrings:</c> (Orleans' other way of naming one).</summary>
    public string ConnectionName { get; set; } = string.Empty;

    public bool Configured => !string.IsNullOrWhiteSpace(ProviderType);

    /// <summary>The Redis connection string this provider uses, however it was given; null when none is. In Orleans'
    /// order (Microsoft.Orleans.Clustering.Redis' provider builder): <see cref="ServiceKey"/>, then
    /// <see cref="ConnectionString"/>, then <see cref="ConnectionName"/>.</summary>
    public string? ResolveConnectionString(Func<string, string?> connectionStrings) =>
        ServiceKey.Length > 0 ? connectionStrings(ServiceKey)
        : ConnectionString.Length > 0 ? ConnectionString
        : ConnectionName.Length > 0 ? connectionStrings(ConnectionName) : null;
}
