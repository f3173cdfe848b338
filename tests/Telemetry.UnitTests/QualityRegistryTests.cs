using Microsoft.Extensions.Options;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class QualityRegistryTests
{
    [Theory]
    [InlineData("aerorun-*", "aerorun-3", true)]
    [InlineData("aerorun-*", "aerorun-", true)]
    [InlineData("aerorun-*", "trailpro-2", false)]
    [InlineData("2025w4?-sz*", "2025w41-sz3", true)]
    [InlineData("2025w4?-sz*", "2025w4-sz3", false)]
    [InlineData("*", "", true)]
    [InlineData("a*b*c", "aXbYbZc", true)]
    [InlineData("a*b*c", "aXbYbZ", false)]
    [InlineData("exact", "exact", true)]
    [InlineData("exact", "Exact", false)]
    public void Glob_MatchesStarAndQuestionMarkOrdinally(string pattern, string text, bool expected) =>
        Assert.Equal(expected, Glob.IsMatch(pattern, text));

    [Fact]
    public void Glob_OnAPathologicalPattern_StaysFast()
    {
        // Backtracking only to the last star keeps this linear rather than exponential.
        var text = new string('a', 10_000);

        Assert.False(Glob.IsMatch(string.Concat(Enumerable.Repeat("a*", 30)) + "b", text));
    }

    [Fact]
    public void Registry_WithoutLists_AcceptsEveryModelAndBatch() =>
        Assert.True(QualityRegistry.Open.Accepts("anything", "at-all"));

    [Theory]
    [InlineData("aerorun-3", "2025w28-sz2", true)]
    [InlineData("aerorun-3", "2025w41-sz3", true)]
    [InlineData("rogue-1", "2025w28-sz2", false)]
    [InlineData("aerorun-3", "2024w01-x", false)]
    [InlineData("pulseband-2", "PB-77", true)] // a model/batch glob
    [InlineData("aerorun-3", "PB-77", false)]
    public void Registry_AcceptsOnlyListedModelsAndBatches(string model, string batch, bool expected)
    {
        var registry = new QualityRegistry(Options.Create(new QualityRegistryOptions
        {
            KnownModels = ["aerorun-*", "pulseband-?"],
            KnownBatches = ["2025w*", "pulseband-*/PB-*"],
        }));

        Assert.Equal(expected, registry.Accepts(model, batch));
    }
}
