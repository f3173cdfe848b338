namespace Telemetry.Ingest.Twins;

/// <summary>
/// The twins the store may hold, as a Bloom filter: "no" is certain, "maybe" is not. Built from the table at start
/// and told of every write before it commits, so a twin that exists is never reported absent. A fleet's new devices
/// are then activated without a read that finds nothing. Bits are only ever set, so readers need no lock; a removed
/// twin stays a "maybe" (a read that finds nothing, as before).
/// </summary>
internal sealed class TwinFilter
{
    private const int Hashes = 7;

    private readonly long[] _words;
    private readonly ulong _mask;

    /// <param name="expected">Twins expected over the process's life: 16 bits each (a false "maybe" about once in
    /// 2,000 at that count), at least 2 MiB and at most 128 MiB (67 million twins; past that, "maybe" grows common
    /// and costs reads, never a wrong answer).</param>
    public TwinFilter(long expected)
    {
        var bits = 1L << 24;
        while (bits < expected * 16 && bits < 1L << 30)
        {
            bits <<= 1;
        }

        _words = new long[bits / 64];
        _mask = (ulong)bits - 1;
    }

    public void Add(string stateName, string grainId)
    {
        var (h1, h2) = Hash(stateName, grainId);
        for (var i = 0; i < Hashes; i++)
        {
            var bit = (h1 + ((ulong)i * h2)) & _mask;
            Interlocked.Or(ref _words[bit >> 6], 1L << (int)(bit & 63));
        }
    }

    public bool MightContain(string stateName, string grainId)
    {
        var (h1, h2) = Hash(stateName, grainId);
        for (var i = 0; i < Hashes; i++)
        {
            var bit = (h1 + ((ulong)i * h2)) & _mask;
            if ((Volatile.Read(ref _words[bit >> 6]) & (1L << (int)(bit & 63))) == 0)
            {
                return false;
            }
        }

        return true;
    }

    // Two 64-bit FNV-1a hashes of the key's characters, with different offsets (double hashing, Kirsch and
    // Mitzenmacher). Not keyed: a client choosing colliding ids gets reads that find nothing, as before this filter.
    private static (ulong, ulong) Hash(string stateName, string grainId)
    {
        ulong a = 14695981039346656037, b = 0x9E3779B97F4A7C15;
        foreach (var c in stateName)
        {
            (a, b) = ((a ^ c) * 1099511628211, (b ^ c) * 1099511628211);
        }

        (a, b) = ((a ^ 0xFFFF) * 1099511628211, (b ^ 0xFFFF) * 1099511628211);
        foreach (var c in grainId)
        {
            (a, b) = ((a ^ c) * 1099511628211, (b ^ c) * 1099511628211);
        }

        // The second hash must be odd so that the probes step through every position.
        return (a ^ (a >> 29), (b ^ (b >> 31)) | 1);
    }
}
