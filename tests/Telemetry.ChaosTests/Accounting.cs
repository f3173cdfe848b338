namespace Telemetry.ChaosTests;

/// <summary>
/// The end of every scenario. <see cref="Lost"/>: readings in messages the service acked to their device that
/// the store does not hold (the device has deleted them). <see cref="Duplicates"/>: readings a twin counted
/// beyond the distinct readings its device ever sent (applied twice). <see cref="TwinMissing"/>: acked
/// readings a twin never counted. <see cref="TwinsUnreadable"/>: why the twins could not be read (the service
/// is gone), null when they were.
/// </summary>
public sealed record Accounting(long ReadingsAcked, long ReadingsStored, long Lost, long Duplicates, long TwinMissing, string? TwinsUnreadable);
