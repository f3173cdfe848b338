namespace Telemetry.Models.Learning;

/// <summary>
/// A device's recent wear trajectory, one point a week, for the curve-fit method (<see cref="Rul.LifeFit"/>): the fit
/// weighs how a device got where it is, which its running usage does not keep. Each point is the age (km since new, or
/// cycles since the reference) and the progress towards the replacement limit (0 new, 1 at the limit; see
/// <see cref="WearCurve.Progress"/>) the model saw in the first estimate of a week. The training examples are weekly
/// too, so a row weighs in the twin what it weighed when the fit was chosen. Only the newest
/// <see cref="MaxPoints"/> are kept: the fit's memory (0.5–0.9 a row) leaves older rows less than 1% of a new one's
/// weight. Points are written by the served model, and only by the curve fit; under the other methods it stays empty.
/// Not thread-safe: a twin's own.
/// </summary>
public sealed class WearHistory
{
    /// <summary>Points kept: 0.9 (the longest memory searched) to the 48th is 0.6%.</summary>
    public const int MaxPoints = 48;

    public const long WeekMs = 7 * 86_400_000L;

    private readonly List<double> _ages = [];
    private readonly List<double> _progress = [];

    public IReadOnlyList<double> Ages => _ages;

    public IReadOnlyList<double> Progress => _progress;

    public int Count => _ages.Count;

    /// <summary>Week of the newest point, counted from the device's first reading; −1 before the first point.</summary>
    public int LastWeek { get; private set; } = -1;

    /// <summary>Week of the usage's newest reading, counted from its first (kept by the usage as readings arrive; not stored).</summary>
    public int Week { get; set; }

    /// <summary>Raised by every point added: the served model's cached fit is of the history at one version.</summary>
    public int Version { get; private set; }

    /// <summary>The served model's last fit of this history, shifted by age until the next point (not stored).</summary>
    internal FitCache? Cached { get; set; }

    /// <summary>Whole weeks from <paramref name="firstMs"/> to <paramref name="nowMs"/> (0 for a clock that went back).</summary>
    public static int WeekOf(long firstMs, long nowMs) => (int)Math.Clamp(((double)nowMs - firstMs) / WeekMs, 0, int.MaxValue);

    /// <summary>The history as stored; points that could not have been recorded (not finite, out of order, beyond
    /// <see cref="MaxPoints"/>, progress outside [0, 1]) are dropped, so a damaged store gives a shorter history, not a
    /// wrong fit.</summary>
    public static WearHistory Restore(IReadOnlyList<double>? ages, IReadOnlyList<double>? progress, int lastWeek)
    {
        var history = new WearHistory { LastWeek = Math.Max(-1, lastWeek) };
        var count = Math.Min(ages?.Count ?? 0, progress?.Count ?? 0);
        for (var i = Math.Max(0, count - MaxPoints); i < count; i++)
        {
            var (age, share) = (ages![i], progress![i]);
            if (double.IsFinite(age) && share is >= 0 and <= 1
                && (history.Count == 0 || (age >= history._ages[^1] && share >= history._progress[^1])))
            {
                history._ages.Add(age);
                history._progress.Add(share);
            }
        }

        return history;
    }

    /// <summary>
    /// Adds the device's age and progress as the point of <see cref="Week"/>, unless that week has one already. Progress
    /// never goes back (a rest that recovers some capacity does not make a cell younger), nor does age. Returns whether a
    /// point was added.
    /// </summary>
    public bool Record(double age, double progress)
    {
        if (Week <= LastWeek || !double.IsFinite(age) || double.IsNaN(progress))
        {
            return false;
        }

        progress = Math.Clamp(progress, 0, 1);
        if (Count > 0)
        {
            (age, progress) = (Math.Max(age, _ages[^1]), Math.Max(progress, _progress[^1]));
        }

        if (Count == MaxPoints)
        {
            _ages.RemoveAt(0);
            _progress.RemoveAt(0);
        }

        _ages.Add(age);
        _progress.Add(progress);
        LastWeek = Week;
        Version++;
        return true;
    }

    /// <summary>A fit of one version of the history by one model: its answer at the age of the newest point.</summary>
    internal sealed record FitCache(object Model, int Version, double Age, double Rul);
}
