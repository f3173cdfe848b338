using System.Text.Json;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// The demo restarted on its data directory carries on where its fleet got to: before, the fleet replayed its month
/// on top of the stored twins and every shoe's kilometres doubled (found by a newcomer running the demo twice).
/// </summary>
public sealed class SimulationRestartEndToEndTests(SimulationFixture service) : IClassFixture<SimulationFixture>
{
    [Fact]
    public async Task ARestartedDemo_CarriesOnWhereItsFleetGotTo_InsteadOfReplayingItsMonthOnTopOfTheTwins()
    {
        // The fleet (a month in four seconds) has caught up with real time and its shoe has run its month.
        var started = await CheckpointAsync(DateTimeOffset.UtcNow, "the fleet caught up with real time");
        var before = await service.WaitForJsonAsync("/api/devices/shoe-00001",
            t => t.GetProperty("totals").GetProperty("distance_km").GetDouble() > 20, "20 km on the simulated shoe");
        await service.RestartAsync();
        // Taken once the first run is stopped: a checkpoint that reached it is the new run's.
        var restarted = DateTimeOffset.UtcNow;

        // The new run started its devices where the first did and carried on from where they had got to: a fresh
        // fleet would start a month before the restart and send that month again.
        Assert.Equal(started, await CheckpointAsync(restarted, "the new run caught up with real time"));
        var after = await service.WaitForJsonAsync("/api/devices/shoe-00001", _ => true, "the shoe");
        var (was, now) = (Distance(before), Distance(after));
        // Messages of the last catch-up tick (up to a day and a half of the month) may still have been on their way when
        // the distance was read before the restart; a replayed month would double it.
        Assert.True(now >= was && now < was * 1.25, $"{was:F1} km before the restart, {now:F1} km after");
    }

    private static double Distance(JsonElement twin) => twin.GetProperty("totals").GetProperty("distance_km").GetDouble();

    /// <summary>Until the fleet's checkpoint says it has measured up to <paramref name="at"/>; returns when its devices started.</summary>
    private async Task<DateTimeOffset> CheckpointAsync(DateTimeOffset at, string what)
    {
        var path = Path.Combine(service.DataDirectory, "simulation.json");
        for (var deadline = DateTimeOffset.UtcNow.AddSeconds(60); ;)
        {
            var text = File.Exists(path) ? await File.ReadAllTextAsync(path) : null;
            var checkpoint = text is null ? default : JsonDocument.Parse(text).RootElement;
            if (text is not null && checkpoint.GetProperty("reached").GetDateTimeOffset() >= at)
            {
                return checkpoint.GetProperty("started").GetDateTimeOffset();
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"{what}: never; the checkpoint is {text ?? "missing"}");
            await Task.Delay(100);
        }
    }
}
