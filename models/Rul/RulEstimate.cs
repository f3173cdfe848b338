namespace Telemetry.Models.Rul;

/// <summary>A remaining-life estimate with its interval (10th and 90th percentiles).</summary>
public readonly record struct RulEstimate(double Rul, double Low, double High);
