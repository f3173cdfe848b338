using Telemetry.Ingest.Simulation;
using Telemetry.Models.Simulation;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The demo fleet carries on where its last run on the same data directory got to, rather than replaying its month
/// on top of the stored twins (a restarted demo doubled every shoe's kilometres).
/// </summary>
public sealed class SimulationCheckpointTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-simulation-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void WithoutACheckpoint_TheFleetStartsAfresh_TheBackfillInThePast()
    {
        var options = new SimulationOptions { Devices = 10 };

        var plan = SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now);

        Assert.Null(plan.ResumeFrom);
        Assert.Equal(Now - options.Backfill, plan.DeviceStart);
        Assert.Equal(Now - options.Backfill, plan.Clock.Now(Now));
        Assert.Equal(Now + options.CatchUp, plan.Clock.Now(Now + options.CatchUp)); // real time from there on
    }

    [Fact]
    public void AfterARunOfTheSameFleet_ItResumesWhereThatGotTo_AndCatchesUpTheGapAtTheSameSpeed()
    {
        var options = new SimulationOptions { Devices = 10 };
        var started = Now - options.Backfill - TimeSpan.FromHours(1);
        var reached = Now - TimeSpan.FromDays(2);
        new SimulationCheckpoint(options.Seed, options.Devices, started, reached).Write(_directory);

        var plan = SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now);

        Assert.Equal((started, reached), (plan.DeviceStart, plan.ResumeFrom));
        Assert.Equal(reached, plan.Clock.Now(Now));
        var catchUp = options.CatchUp * (2 / options.Backfill.TotalDays);
        Assert.Equal(Now + catchUp, plan.Clock.Now(Now + catchUp));
        Assert.Equal(new SimulationClock(Now, options.Backfill, options.CatchUp).Speed, plan.Clock.Speed, tolerance: 0.01);
    }

    [Theory]
    [InlineData(7, 10)] // another seed
    [InlineData(42, 20)] // another size
    public void AfterARunOfAnotherFleet_ItStartsAfresh(int seed, int devices)
    {
        new SimulationCheckpoint(seed, devices, Now - TimeSpan.FromDays(29), Now - TimeSpan.FromDays(1)).Write(_directory);

        var plan = SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), new SimulationOptions { Devices = 10 }, Now);

        Assert.Null(plan.ResumeFrom);
    }

    [Fact]
    public void ACheckpointThatReachedBeforeItStarted_StartsTheFleetAfresh()
    {
        var options = new SimulationOptions { Devices = 10 };
        new SimulationCheckpoint(options.Seed, options.Devices, Now - TimeSpan.FromDays(1), Now - TimeSpan.FromDays(2)).Write(_directory);

        Assert.Null(SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now).ResumeFrom);
    }

    [Fact]
    public void AGapLongerThanTheBackfill_IsCutToIt_SoNoReadingFallsOutsideTheAcceptedWindow()
    {
        var options = new SimulationOptions { Devices = 10 };
        new SimulationCheckpoint(options.Seed, options.Devices, Now - TimeSpan.FromDays(90), Now - TimeSpan.FromDays(60)).Write(_directory);

        var plan = SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now);

        Assert.Equal(Now - options.Backfill, plan.ResumeFrom);
        Assert.Equal(Now - TimeSpan.FromDays(90), plan.DeviceStart);
    }

    [Fact]
    public void ARunThatStoppedAtRealTime_ResumesAtOnce()
    {
        var options = new SimulationOptions { Devices = 10 };
        new SimulationCheckpoint(options.Seed, options.Devices, Now - TimeSpan.FromDays(29), Now).Write(_directory);

        var plan = SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now);

        Assert.Equal(Now, plan.ResumeFrom);
        Assert.Equal(Now + TimeSpan.FromSeconds(5), plan.Clock.Now(Now + TimeSpan.FromSeconds(5)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("""{"seed":42,"devices":10}""")]
    [InlineData("""{"seed":"x","devices":10,"started":"2026-11-01T00:00:00Z","reached":"2026-11-02T00:00:00Z"}""")]
    [InlineData("""{"seed":42,"devices":10,"started":"yesterday","reached":"2026-11-02T00:00:00Z"}""")]
    [InlineData("[1,2]")]
    public void AnUnreadableCheckpoint_StartsTheFleetAfresh(string text)
    {
        File.WriteAllText(Path.Combine(_directory, SimulationCheckpoint.FileName), text);

        Assert.Null(SimulationCheckpoint.Read(_directory));
    }

    [Fact]
    public void ACheckpointAheadOfTheClock_IsResumed_AndTheDevicesWaitForRealTimeToPassIt()
    {
        // The clock was set back an hour: starting afresh would send the fleet's month again.
        var options = new SimulationOptions { Devices = 10 };
        var ahead = Now + TimeSpan.FromHours(1);
        new SimulationCheckpoint(options.Seed, options.Devices, Now - TimeSpan.FromDays(29), ahead).Write(_directory);

        var plan = SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now);

        Assert.Equal(ahead, plan.ResumeFrom);
        Assert.Equal(Now + TimeSpan.FromMinutes(10), plan.Clock.Now(Now + TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public void AFleetOlderThanItsBound_StartsAfresh_RatherThanSimulatingEveryDaySince()
    {
        var options = new SimulationOptions { Devices = 10 };
        var started = Now - SimulationCheckpoint.MaxFleetAge - TimeSpan.FromDays(1);
        new SimulationCheckpoint(options.Seed, options.Devices, started, Now - TimeSpan.FromDays(1)).Write(_directory);
        Assert.Null(SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now).ResumeFrom);

        new SimulationCheckpoint(options.Seed, options.Devices, started + TimeSpan.FromDays(2), Now - TimeSpan.FromDays(1)).Write(_directory);
        Assert.Equal(Now - TimeSpan.FromDays(1), SimulationCheckpoint.Plan(SimulationCheckpoint.Read(_directory), options, Now).ResumeFrom);
    }

    [Fact]
    public void ADeviceAdvancedWithoutSending_ThenSends_WhatAnUninterruptedOneSendsFromThere()
    {
        // What makes resuming sound: the fleet is seeded, so a device brought to where the last run got to, its
        // readings up to there dropped, goes on exactly as the device of that run would have. Nothing is sent twice.
        var start = Now - TimeSpan.FromDays(29);
        var stop = start + TimeSpan.FromDays(11.3);
        var until = start + TimeSpan.FromDays(20);
        for (var i = 0; i < 2; i++)
        {
            var uninterrupted = FleetGenerator.Create(10, 42, FleetFaults.Default)[i];
            var resumed = FleetGenerator.Create(10, 42, FleetFaults.Default)[i];
            uninterrupted.Start(start);
            resumed.Start(start);
            var before = new List<SimulatedReading>();
            uninterrupted.Advance(stop, before);
            resumed.Advance(stop, []);
            var (expected, actual) = (new List<SimulatedReading>(), new List<SimulatedReading>());
            uninterrupted.Advance(until, expected);
            resumed.Advance(until, actual);

            Assert.NotEmpty(before);
            Assert.NotEmpty(actual);
            Assert.True(actual[0].TimestampMs > before[^1].TimestampMs, "a reading of the first run was sent again");
            Assert.Equal(Flatten(expected), Flatten(actual));
        }
    }

    private static List<string> Flatten(List<SimulatedReading> readings) =>
        [.. readings.Select(r => $"{r.TimestampMs}:{string.Join(',', r.Metrics.Select(m => $"{m.Key}={m.Value:R}"))}")];
}
