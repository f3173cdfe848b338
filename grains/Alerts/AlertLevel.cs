namespace Telemetry.Grains.Alerts;

/// <summary>One rung of an <see cref="AlertLadder"/>: the alert raised when the value falls below a threshold.</summary>
public sealed record AlertLevel(string Code, AlertSeverity Severity, double Below);
