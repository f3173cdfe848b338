using System.Security.Cryptography;
using System.Text;

namespace Telemetry.Ingest.Api;

/// <summary>
/// A key in force: where it came from (for logs and audit, never the key itself), its scopes, and the
/// SHA-256 of the key. Comparing digests of equal length in constant time keeps the comparison from leaking
/// how much of a guess was right, or how long the key is.
/// </summary>
internal sealed record ApiKey(string Label, string[] Scopes, byte[] Digest)
{
    public static ApiKey Create(string label, string key, string[] scopes) => new(label, scopes, Hash(key));

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Same keys with the same scopes and labels, so a reload that changed nothing is not logged.</summary>
    public static bool SameSet(IReadOnlyList<ApiKey> a, IReadOnlyList<ApiKey> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.Label == p.Second.Label
            && p.First.Scopes.SequenceEqual(p.Second.Scopes) && p.First.Digest.AsSpan().SequenceEqual(p.Second.Digest));
}
