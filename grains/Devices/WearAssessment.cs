using Telemetry.Grains.Alerts;

namespace Telemetry.Grains.Devices;

/// <summary>
/// A wear estimate as an alert ladder reads it (<see cref="AlertStepper.Climb"/>). The evidence and the raised alert's
/// text are made only when the level moves: most rounds change nothing, and the evidence costs a few arrays,
/// formatted keys and, for a learned model, the predictions that name its drivers.
/// </summary>
/// <param name="Family">The alert family the ladder keeps one open alert of.</param>
/// <param name="Ladder">Its levels and hysteresis.</param>
/// <param name="Value">The value the ladder reads, percent of new.</param>
/// <param name="Evidence">The numbers behind the change (<see cref="EvidenceBuilder"/>).</param>
/// <param name="RaisedText">The wearer-facing text of the alert raised for a level's code, in a locale (<see cref="AlertLocales"/>).</param>
internal readonly record struct WearAssessment(
    string Family,
    AlertLadder Ladder,
    double Value,
    Func<EvidenceItem[]> Evidence,
    Func<string, string, string> RaisedText);
