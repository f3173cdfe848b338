namespace Telemetry.Ingest.Api;

/// <summary>The body of <c>GET /api/cluster</c>: which silos this instance's cluster counts, and their state.</summary>
/// <param name="Mode"><c>single</c> (localhost clustering) or the clustering provider (<c>Redis</c>).</param>
/// <param name="ClusterId">Orleans:ClusterId; empty for a single node.</param>
/// <param name="Self">This instance's silo address.</param>
/// <param name="Silos">Every silo the membership table holds, with its status (Active, Dead, Joining...).</param>
internal sealed record ClusterView(string Mode, string ClusterId, string Self, IReadOnlyList<ClusterSilo> Silos)
{
    /// <summary>Silos whose status is Active.</summary>
    public int Active => Silos.Count(s => s.Status == "Active");
}

/// <summary>One silo of <see cref="ClusterView"/>.</summary>
internal sealed record ClusterSilo(string Address, string Status);
