namespace Telemetry.Ingest.Uplink;

/// <summary>Ordinal glob matching with <c>*</c> (any run of characters, also none) and <c>?</c> (one character).</summary>
internal static class Glob
{
    /// <summary>Greedy matching with backtracking to the last <c>*</c>: linear in practice, never exponential.</summary>
    public static bool IsMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, starAt = -1, resumeAt = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                starAt = p++;
                resumeAt = t;
            }
            else if (starAt >= 0)
            {
                p = starAt + 1;
                t = ++resumeAt;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
