using Telemetry.Models.Learning;

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

    /// <summary>The same as <see cref="EstimateShoe(in ShoeWearInput)"/> for a twin that keeps the shoe's weekly
    /// trajectory: a model that weighs it (the curve fit) records this estimate's point in it; the others ignore it.</summary>
    ShoeWearEstimate EstimateShoe(in ShoeWearInput input, WearHistory history) => EstimateShoe(input);

    /// <summary>The band's counterpart of <see cref="EstimateShoe(in ShoeWearInput, WearHistory)"/>.</summary>
    BandWearEstimate EstimateBand(in BandWearInput input, WearHistory history) => EstimateBand(input);
}

/// <summary>A wear model that can say what drives one of its estimates.</summary>
public interface IExplainableWearModel
{
    /// <summary>The inputs that move this shoe's remaining distance most, against a typical shoe, as text
    /// such as <c>pace_min_per_km -85 km; impact_ratio -40 km</c>.</summary>
    string ShoeDrivers(in ShoeWearInput input, int top = 3);

    /// <summary>The same for a band's remaining cycles.</summary>
    string BandDrivers(in BandWearInput input, int top = 3);
}
