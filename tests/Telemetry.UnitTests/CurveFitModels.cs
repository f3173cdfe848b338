using System.Text.Json;
using System.Text.Json.Nodes;
using Telemetry.Models.Learning;
using Telemetry.Models.Rul;
using Telemetry.Models.Wear;

namespace Telemetry.UnitTests;

/// <summary>
/// The shipped wear models copied to a temporary directory, with the band report rewritten as <c>train</c> writes it
/// when the curve fit wins, over <see cref="Population"/>: what the curve-fit serving tests and their attacks load.
/// </summary>
internal sealed class CurveFitModels : IDisposable
{
    /// <summary>Three bands that lost health linearly to 80% in 80, 100 and 120 cycles.</summary>
    public static readonly DegradationCurve.Curve[] Population = [.. new[] { 80.0, 100, 120 }.Select(Linear)];

    public static readonly LifeFit Fit = LifeFit.From(Population, evidence: 0.3, memory: 0.7);

    /// <summary>The lookup and the fit over <paramref name="curve"/>'s population (for a blend: the two it averages).</summary>
    public static (DegradationCurve Lookup, DegradationCurve Fit) LookupAndFitOf(DegradationCurve curve) =>
        (new DegradationCurve(curve.Column, curve.Direction, curve.Life, curve.EndOffset, curve.Smooth, [.. curve.Curves]),
         new DegradationCurve(curve.Column, curve.Direction, curve.Life, curve.EndOffset, curve.Smooth, [.. curve.Curves], curve.Fitted));

    public CurveFitModels()
    {
        foreach (var file in Directory.GetFiles(LearnedWearModel.DefaultDirectory))
        {
            File.Copy(file, Path.Combine(Root, Path.GetFileName(file)));
        }

        PatchBandReport(report =>
        {
            report["Method"] = "curve fit";
            report["Curves"] = JsonSerializer.SerializeToNode(Population);
            report["Fit"] = JsonSerializer.SerializeToNode(Fit);
        });
    }

    /// <summary>The directory holding the models (<c>{kind}-rul.zip</c> and <c>{kind}-rul.json</c>).</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("wear-fit-").FullName;

    public void Dispose() => Directory.Delete(Root, recursive: true);

    public LearnedWearModel Load() => LearnedWearModel.Load(Root);

    public void PatchBandReport(Action<JsonObject> patch) => PatchReport("band", patch);

    public void PatchReport(string kind, Action<JsonObject> patch)
    {
        var json = Path.Combine(Root, $"{kind}-rul.json");
        var report = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        patch(report);
        File.WriteAllText(json, report.ToJsonString());
    }

    /// <summary>A band that lost health linearly to 80% in <paramref name="life"/> cycles, 41 rows.</summary>
    public static DegradationCurve.Curve Linear(double life)
    {
        var ages = Enumerable.Range(0, 41).Select(k => k * life / 40).ToArray();
        return new DegradationCurve.Curve(ages, [.. ages.Select(a => a / life)], life);
    }

    /// <summary>A band's input at <paramref name="cycles"/> with a fitted health of <paramref name="healthPct"/>.</summary>
    public static BandWearInput Band(double cycles, double healthPct) => new(300, 3 * healthPct, cycles, 7, 0.2, healthPct);

    /// <summary>A history with one point a week, from week 0.</summary>
    public static WearHistory History(IEnumerable<(double Age, double Progress)> points)
    {
        var history = new WearHistory();
        var week = 0;
        foreach (var (age, progress) in points)
        {
            history.Week = week++;
            history.Record(age, progress);
        }

        return history;
    }
}
