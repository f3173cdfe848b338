namespace Telemetry.Grains.Alerts;

/// <summary>
/// Maps a falling wear value (percent of new) to at most one open alert of a family, with hysteresis: the
/// value enters a level when it drops below the level's threshold, and leaves it only when it climbs back
/// to the threshold plus <see cref="Hysteresis"/>. Measurement noise around a threshold therefore changes
/// nothing, and each real change of level yields exactly one transition.
/// </summary>
/// <param name="Levels">Rungs ordered from the mildest (highest threshold) to the most severe.</param>
/// <param name="Hysteresis">Percentage points the value must recover before a level clears.</param>
public sealed record AlertLadder(IReadOnlyList<AlertLevel> Levels, double Hysteresis)
{
    public static AlertLadder Cushioning { get; } = new(
        [
            new AlertLevel(AlertCodes.ShoeReplaceSoon, AlertSeverity.Warning, 70),
            new AlertLevel(AlertCodes.ShoeReplaceNow, AlertSeverity.Critical, 60),
        ],
        Hysteresis: 2);

    public static AlertLadder Battery { get; } = new(
        [new AlertLevel(AlertCodes.BandBatteryDegraded, AlertSeverity.Warning, 80)],
        Hysteresis: 2);

    /// <summary>
    /// The level for <paramref name="value"/> given the level the device is at now (−1 for none).
    /// </summary>
    public int Evaluate(int current, double value)
    {
        // Falling: the most severe level whose threshold the value is below.
        var falling = -1;
        for (var i = 0; i < Levels.Count; i++)
        {
            if (value < Levels[i].Below)
            {
                falling = i;
            }
        }

        if (falling >= current)
        {
            return falling;
        }

        // Rising: step down one level at a time only past each threshold plus the hysteresis band.
        var level = current;
        while (level >= 0 && value >= Levels[level].Below + Hysteresis)
        {
            level--;
        }

        return level;
    }
}
