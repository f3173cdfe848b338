using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Ingest.Hosting;
using Telemetry.Tests;
using Xunit;

namespace Telemetry.UnitTests;

public sealed partial class OrleansWatchdogLoggerTests
{
    private sealed class Watchdog;

    [Fact]
    public void StallLongerThanTheLoggerExisted_IsDropped_AsTheStartRace()
    {
        var (log, logger, time) = Make();
        time.Advance(TimeSpan.FromSeconds(3));

        // What the race reports: the machine's uptime.
        LogParticipantStalled(logger, new TimeSpan(7, 10, 18));

        Assert.Empty(log.Lines);
    }

    [Fact]
    public void RealStall_PassesUnchanged()
    {
        var (log, logger, time) = Make();
        time.Advance(TimeSpan.FromMinutes(5));

        LogParticipantStalled(logger, TimeSpan.FromSeconds(25));
        LogPlatformStalled(logger, TimeSpan.FromHours(1));
        LogComplaint(logger, "the directory is behind");

        Assert.Collection(log.Lines,
            l => Assert.Equal((LogLevel.Warning, OrleansWatchdogLogger<Watchdog>.StalledEventId, "Participant check thread has not completed for 00:00:25, potentially indicating lock contention or deadlock, CPU starvation, or another execution anomaly."), (l.Level, l.EventId.Id, l.Text)),
            l => Assert.Equal((LogLevel.Warning, OrleansWatchdogLogger<Watchdog>.StalledEventId, ".NET Runtime Platform stalled for 01:00:00"), (l.Level, l.EventId.Id, l.Text)),
            l => Assert.Equal("1 of 9 components reported issues. Complaints: the directory is behind", l.Text));
        Assert.All(log.Lines, l => Assert.Equal(typeof(Watchdog).FullName, l.Category));
    }

    private static (CapturedLog Log, ILogger<Watchdog> Logger, FakeTimeProvider Time) Make()
    {
        var log = new CapturedLog();
        var factory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Trace));
        var time = new FakeTimeProvider();
        return (log, new OrleansWatchdogLogger<Watchdog>(factory, time), time);
    }

    // The watchdog's own messages and event ids (Orleans 10.4).
    [LoggerMessage(EventId = 100150, Level = LogLevel.Warning, Message = "Participant check thread has not completed for {TimeSinceLastTick}, potentially indicating lock contention or deadlock, CPU starvation, or another execution anomaly.")]
    private static partial void LogParticipantStalled(ILogger logger, TimeSpan timeSinceLastTick);

    [LoggerMessage(EventId = 100150, Level = LogLevel.Warning, Message = ".NET Runtime Platform stalled for {TimeSinceLastTick}")]
    private static partial void LogPlatformStalled(ILogger logger, TimeSpan timeSinceLastTick);

    [LoggerMessage(EventId = 100151, Level = LogLevel.Warning, Message = "1 of 9 components reported issues. Complaints: {Complaints}")]
    private static partial void LogComplaint(ILogger logger, string complaints);
}
