using System.Diagnostics;
using System.Text.Json;
using Telemetry.IntegrationTests;
using Xunit.Abstractions;

namespace Telemetry.ChaosTests;

/// <summary>
/// A scenario's figures (load, fault, lost, duplicates, peak memory, recovery time), written to the test
/// output and to <c>TestResults/chaos/{scenario}.json</c> beside this project (or <c>$CHAOS_RESULTS</c>) before
/// anything is asserted, so a failing scenario still leaves its numbers for docs/reliability.md.
/// </summary>
public sealed class ScenarioRecord(string scenario, string load, string fault)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<string, string> _notes = [];

    public double? RecoverySeconds { get; set; }

    public void Note(string name, string value) => _notes[name] = value;

    public void Write(ITestOutputHelper output, LoadResult? result, Accounting? accounting, double peakRssMiB)
    {
        var directory = Environment.GetEnvironmentVariable("CHAOS_RESULTS")
            ?? Path.Combine(MosquittoServer.RepositoryRoot, "tests", "Telemetry.ChaosTests", "TestResults", "chaos");
        Directory.CreateDirectory(directory);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("scenario", scenario);
            w.WriteString("at", DateTimeOffset.UtcNow);
            w.WriteString("load", load);
            w.WriteString("fault", fault);
            w.WriteNumber("seconds", Math.Round(_clock.Elapsed.TotalSeconds, 1));
            if (accounting is not null)
            {
                w.WriteNumber("readings_acked", accounting.ReadingsAcked);
                w.WriteNumber("readings_stored", accounting.ReadingsStored);
                w.WriteNumber("lost", accounting.Lost);
                w.WriteNumber("duplicates", accounting.Duplicates);
                w.WriteNumber("twin_missing", accounting.TwinMissing);
                if (accounting.TwinsUnreadable is { } why)
                {
                    w.WriteString("twins_unreadable", why);
                }
            }

            w.WriteNumber("peak_rss_mib", Math.Round(peakRssMiB, 1));
            if (RecoverySeconds is { } recovery)
            {
                w.WriteNumber("recovery_s", Math.Round(recovery, 1));
            }
            else
            {
                w.WriteNull("recovery_s");
            }

            foreach (var (name, value) in _notes)
            {
                w.WriteString(name, value);
            }

            if (result is not null)
            {
                w.WriteNumber("load_exit_code", result.ExitCode);
                w.WritePropertyName("load_summary");
                result.Summary.WriteTo(w);
            }

            w.WriteEndObject();
        }

        var json = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        File.WriteAllText(Path.Combine(directory, $"{scenario}.json"), json);
        output.WriteLine(json);
    }
}
