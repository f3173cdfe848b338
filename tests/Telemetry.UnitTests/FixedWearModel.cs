using Telemetry.Models.Wear;

namespace Telemetry.UnitTests;

/// <summary>A wear model that answers what the test sets, names drivers, and counts how often it was asked for them
/// (they cost a few predictions in the learned model, so the twin asks only when an alert level moves).</summary>
internal sealed class FixedWearModel : IWearModel, IExplainableWearModel
{
    public ShoeWearEstimate Shoe { get; set; } = new(100, 700, 0, 1, 1);

    public BandWearEstimate Band { get; set; } = new(100, 800, 0.0367);

    public int Explanations { get; private set; }

    public string Version => "fixed-1";

    public ShoeWearEstimate EstimateShoe(in ShoeWearInput input) => Shoe;

    public BandWearEstimate EstimateBand(in BandWearInput input) => Band;

    public string ShoeDrivers(in ShoeWearInput input, int top = 3)
    {
        Explanations++;
        return "pace_min_per_km -85 km";
    }

    public string BandDrivers(in BandWearInput input, int top = 3)
    {
        Explanations++;
        return "mean_temp_c -40 cycles";
    }
}
