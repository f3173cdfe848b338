namespace Telemetry.Models.Learning;

/// <summary>
/// A device's recent wear trajectory, one point a week, for the curve-fit method (<see cref="Rul.LifeFit"/>): the fit
/// weighs how a device got where it is, which its running usage does not keep. Each point is the age (km since new, or
/// cycles since the reference) and the progress towards the replacement limit (0 new, 1 at the limit; see
/// <see cref="WearCurve.Progress"/>) the model saw in the first estimate of a week. The training examples are weekly
/// too, so a row weighs in the twin what it weighed when the fit was chosen; weeks without an estimate (a shoe left in
/// the cupboard, a band that syncs monthly) are filled in between their neighbours, as the examples have a row every
/// week whether the device was used or not. Only the newest <see cref="MaxPoints"/> are kept: the memories train
/// searches (0.5–0.9 a row) leave older rows less than 1% of a new one's weight. A point's progress is kept as it was
/// measured, and the fit reads the <see cref="Trajectory"/>, which moves at most <see cref="MaxWeeklyChange"/> a week
/// from a start that one glitched point cannot set (<see cref="Limited"/>): a gauge that reads 0 once then misleads the fit by a tenth of a
/// life's progress for a week instead of condemning the device for ever. Points are written by the served model, and
/// only by the curve fit; under the other methods it stays empty. Not thread-safe: a twin's own.
/// </summary>
public sealed class WearHistory
{
    /// <summary>Points kept: 0.9 (the longest memory train searches) to the 48th is 0.6%.</summary>
    public const int MaxPoints = 48;

    public const long WeekMs = 7 * 86_400_000L;

    /// <summary>Most the fitted trajectory moves in a week: a tenth of the way from new to the limit. Generated shoes and
    /// bands move 0.01–0.05 a week (a cell fading early 2.5 times faster included), so the limit leaves their trajectory
    /// as measured; a median of three weeks would have lagged it by a week (+18 km of error for shoes, +4 cycles for
    /// bands, measured with train on 2026-11-29).</summary>
    public const double MaxWeeklyChange = 0.1;

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

    /// <summary>The history as stored; points that could not have been recorded (age not finite or going back, progress
    /// outside [0, 1], beyond <see cref="MaxPoints"/>) are dropped, so a damaged store gives a shorter history, not a
    /// wrong fit. Its owner then bounds it by its own clock and age (<see cref="Bound"/>).</summary>
    public static WearHistory Restore(IReadOnlyList<double>? ages, IReadOnlyList<double>? progress, int lastWeek)
    {
        var history = new WearHistory { LastWeek = Math.Max(-1, lastWeek) };
        var count = Math.Min(ages?.Count ?? 0, progress?.Count ?? 0);
        for (var i = Math.Max(0, count - MaxPoints); i < count; i++)
        {
            var (age, share) = (ages![i], progress![i]);
            if (double.IsFinite(age) && share is >= 0 and <= 1 && (history.Count == 0 || age >= history._ages[^1]))
            {
                history._ages.Add(age);
                history._progress.Add(share);
            }
        }

        return history;
    }

    /// <summary>
    /// Keeps a restored history within what its usage says now: no point older than the device (<paramref name="age"/>,
    /// with the features' float rounding allowed) and no recorded week after <paramref name="week"/>, so a damaged or
    /// tampered store cannot stop the weekly points or pin the fit to a life already over.
    /// </summary>
    public void Bound(int week, double age)
    {
        LastWeek = Math.Min(LastWeek, week);
        while (Count > 0 && !(_ages[^1] <= (age * (1 + 1e-6)) + 1e-6))
        {
            _ages.RemoveAt(Count - 1);
            _progress.RemoveAt(_progress.Count - 1);
        }
    }

    /// <summary>The progress the fit reads at each point: as measured, but moving at most <see cref="MaxWeeklyChange"/>
    /// from the point before (see <see cref="Limited"/>).</summary>
    public double[] Trajectory() => Limited(_progress);

    /// <summary>
    /// The rate-limited trajectory, for training examples as for twins: it starts from the first point, unless that lies
    /// more than <see cref="MaxWeeklyChange"/> from the median of the first three (the lower of two), which it then starts
    /// from instead, so that a glitch in the first week does not set where it starts (a band may join the fleet
    /// half-worn: the start is not capped); then it moves at most <see cref="MaxWeeklyChange"/> a point.
    /// </summary>
    public static double[] Limited(IReadOnlyList<double> progress)
    {
        var result = new double[progress.Count];
        for (var i = 0; i < result.Length; i++)
        {
            if (i > 0)
            {
                result[i] = Math.Clamp(progress[i], result[i - 1] - MaxWeeklyChange, result[i - 1] + MaxWeeklyChange);
                continue;
            }

            var middle = progress.Count switch
            {
                1 => progress[0],
                2 => Math.Min(progress[0], progress[1]),
                _ => Math.Max(Math.Min(progress[0], progress[1]), Math.Min(Math.Max(progress[0], progress[1]), progress[2])),
            };
            result[0] = Math.Abs(progress[0] - middle) > MaxWeeklyChange ? middle : progress[0];
        }

        return result;
    }

    /// <summary>
    /// Adds the device's age and progress as the point of <see cref="Week"/>, unless that week has one already. Age never
    /// goes back (a counter reset does not make a device younger); progress is kept as measured, clamped to [0, 1]. Weeks
    /// since the newest point that had none get points in between it and this one. Returns whether a point was added.
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
            age = Math.Max(age, _ages[^1]);
            var (fromWeek, fromAge, fromProgress) = (LastWeek, _ages[^1], _progress[^1]);
            var gap = (long)Week - fromWeek;
            for (var week = Math.Max(fromWeek + 1L, Week - MaxPoints + 1L); week < Week; week++)
            {
                var share = (double)(week - fromWeek) / gap;
                Add(fromAge + (share * (age - fromAge)), fromProgress + (share * (progress - fromProgress)));
            }
        }

        Add(age, progress);
        LastWeek = Week;
        Version++;
        return true;
    }

    private void Add(double age, double progress)
    {
        if (Count == MaxPoints)
        {
            _ages.RemoveAt(0);
            _progress.RemoveAt(0);
        }

        _ages.Add(age);
        _progress.Add(progress);
    }

    /// <summary>A fit of one version of the history by one model (its number, so that a replaced model is not kept
    /// alive by the twins it served): its answer at the age of the newest point.</summary>
    internal sealed record FitCache(long Model, int Version, double Age, double Rul);
}
