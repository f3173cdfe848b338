namespace Telemetry.Models.Wear;

/// <summary>
/// Estimates how worn a device is from the running state its twin keeps. The rule model implements it now;
/// the learned ML.NET models implement the same interface later, so the grains never change when they do.
/// Implementations must be thread-safe: one instance serves every grain in the silo.
/// </summary>
public interface IWearModel
{
    /// <summary>A version string recorded in every alert's evidence, e.g. <c>rules-1</c>.</summary>
    string Version { get; }

    /// <summary>Cushioning left in a running shoe and the distance until it should be replaced.</summary>
    ShoeWearEstimate EstimateShoe(in ShoeWearInput input);

    /// <summary>Battery state of health of a band and the charge cycles until it is degraded.</summary>
    BandWearEstimate EstimateBand(in BandWearInput input);
}
