using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Telemetry.Tests;

/// <summary>A logger provider that keeps every line it is given (category, level, event id, text, fields).</summary>
public sealed class CapturedLog : ILoggerProvider
{
    private readonly ConcurrentQueue<Line> _lines = new();

    public IReadOnlyList<Line> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Capturing(categoryName, _lines);

    public void Dispose()
    {
    }

    public sealed record Line(string Category, LogLevel Level, EventId EventId, string Text, IReadOnlyList<KeyValuePair<string, object?>> Fields, Exception? Exception = null)
    {
        public override string ToString() => Exception is null ? $"{Level} {Category}[{EventId.Id}]: {Text}" : $"{Level} {Category}[{EventId.Id}]: {Text}{Environment.NewLine}{Exception}";
    }

    private sealed class Capturing(string category, ConcurrentQueue<Line> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(new Line(category, logLevel, eventId, formatter(state, exception),
                state as IReadOnlyList<KeyValuePair<string, object?>> ?? [], exception));
    }
}
