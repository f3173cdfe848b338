namespace Telemetry.Ingest.Hosting;

/// <summary>
/// The logger of Orleans' silo watchdog, less one false alarm it raises at start.
/// <para>
/// Orleans 10's <c>Watchdog.Start</c> starts its platform thread before it takes the component thread's first
/// timestamp. When the platform thread checks first (one start in two or three on a busy machine), it reads a timestamp
/// of 0 and warns that the "participant check thread has not completed" for the whole time since the monotonic clock's
/// origin: the machine's uptime (the "00:27:07" of a host up for 27 minutes). No thread stalled. A real stall cannot
/// have lasted longer than this logger has existed, since the watchdog is made after its logger, so exactly the reports
/// longer than that are dropped; every other line (a real stall, a participant's complaint) passes as it was.
/// </para>
/// </summary>
/// <typeparam name="T">Orleans' <c>Orleans.Runtime.Watchdog</c>, whose category this logger keeps.</typeparam>
internal sealed class OrleansWatchdogLogger<T>(ILoggerFactory factory, TimeProvider time) : ILogger<T>
{
    /// <summary>Orleans' <c>ErrorCode.SiloHeartbeatTimerStalled</c>: both of the watchdog's stall warnings.</summary>
    internal const int StalledEventId = 100150;

    // Logger<T>'s category, so that Logging:LogLevel:Orleans.Runtime.Watchdog still applies.
    private readonly ILogger _inner = factory.CreateLogger(typeof(T).FullName ?? typeof(T).Name);
    private readonly long _created = time.GetTimestamp();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => _inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => _inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsStartRace(eventId, state as IReadOnlyList<KeyValuePair<string, object?>>, time.GetElapsedTime(_created)))
        {
            return;
        }

        _inner.Log(logLevel, eventId, state, exception, formatter);
    }

    /// <summary>Whether a line is the stall report of the start-up race: a stall longer than <paramref name="alive"/>.</summary>
    internal static bool IsStartRace(EventId eventId, IReadOnlyList<KeyValuePair<string, object?>>? fields, TimeSpan alive) =>
        eventId.Id == StalledEventId && fields is not null
        && fields.Any(f => f is { Key: "{OriginalFormat}", Value: string format } && format.StartsWith("Participant check thread", StringComparison.Ordinal))
        && fields.Any(f => f is { Key: "TimeSinceLastTick", Value: TimeSpan stalled } && stalled > alive);
}
