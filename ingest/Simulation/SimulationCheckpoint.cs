using System.Globalization;
using System.Text.Json;

namespace Telemetry.Ingest.Simulation;

/// <summary>
/// How far the demo fleet got, kept in <c>{Storage:DataDirectory}/simulation.json</c>: its seed and size, the simulated
/// time its devices started at, and the simulated time up to which they have measured (written before they send it).
/// A run on the same data directory with the same fleet carries on from there, as devices that were switched off
/// would: before, a restarted demo replayed its whole month again on top of the stored twins, and every shoe's
/// kilometres doubled. Readings a device had measured but not had acked when the service stopped are lost, as a pod's
/// unsaved buffer would be, and so are those a device that could not connect had yet to measure.
/// </summary>
internal sealed record SimulationCheckpoint(int Seed, int Devices, DateTimeOffset Started, DateTimeOffset Reached)
{
    public const string FileName = "simulation.json";

    /// <summary>The oldest fleet that is carried on rather than started afresh.</summary>
    public static readonly TimeSpan MaxFleetAge = TimeSpan.FromDays(400);

    /// <summary>The shortest catch-up: a clock cannot run a gap of nothing in no time.</summary>
    private static readonly TimeSpan MinCatchUp = TimeSpan.FromSeconds(1);

    /// <summary>The checkpoint in <paramref name="directory"/>, or null when there is none or it cannot be read (then
    /// the fleet starts afresh, as it did before checkpoints).</summary>
    public static SimulationCheckpoint? Read(string directory)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, FileName)));
            var root = document.RootElement;
            return new SimulationCheckpoint(
                root.GetProperty("seed").GetInt32(), root.GetProperty("devices").GetInt32(),
                root.GetProperty("started").GetDateTimeOffset(), root.GetProperty("reached").GetDateTimeOffset());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException
            or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Replaces the checkpoint in <paramref name="directory"/> whole (a new file moved over the old), so a
    /// stop in the middle of a write leaves the previous one.</summary>
    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var next = path + ".next";
        using (var stream = new FileStream(next, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteNumber("seed", Seed);
            writer.WriteNumber("devices", Devices);
            writer.WriteString("started", Started.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("reached", Reached.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteEndObject();
        }

        File.Move(next, path, overwrite: true);
    }

    /// <summary>
    /// Where a run starts: afresh (its devices start <see cref="SimulationOptions.Backfill"/> in the past and catch up
    /// in <see cref="SimulationOptions.CatchUp"/>), or, after a run of the same fleet (seed and size), from where that
    /// one had reached, catching up the gap at the same speed. A gap longer than the backfill is cut to it: older
    /// readings would fall outside the accepted window. A checkpoint ahead of the clock (the clock was set back) is
    /// resumed from all the same, and the devices wait for real time to pass it: starting afresh would send their
    /// month again. A fleet older than <see cref="MaxFleetAge"/> starts afresh: bringing each device there takes about
    /// five seconds a simulated year for a thousand devices.
    /// </summary>
    public static SimulationPlan Plan(SimulationCheckpoint? last, SimulationOptions options, DateTimeOffset now)
    {
        if (last is { } c && c.Seed == options.Seed && c.Devices == options.Devices && c.Started <= c.Reached && now - c.Started <= MaxFleetAge)
        {
            if (c.Reached >= now)
            {
                return new SimulationPlan(c.Started, c.Reached, new SimulationClock(now, TimeSpan.Zero, MinCatchUp));
            }

            var from = c.Reached > now - options.Backfill ? c.Reached : now - options.Backfill;
            var behind = now - from;
            var catchUp = options.Backfill > TimeSpan.Zero ? options.CatchUp * (behind / options.Backfill) : options.CatchUp;
            return new SimulationPlan(c.Started, from, new SimulationClock(now, behind, catchUp < MinCatchUp ? MinCatchUp : catchUp));
        }

        var clock = new SimulationClock(now, options.Backfill, options.CatchUp);
        return new SimulationPlan(clock.SimulatedStart, null, clock);
    }
}
