namespace Telemetry.Ingest.Hosting;

/// <summary>The system clock shifted by <see cref="ClockOptions.Offset"/>, for fault drills.</summary>
internal sealed class OffsetTimeProvider(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}
