using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Uplink;

/// <summary>Decides whether a birth's model and batch are known products (see <see cref="QualityRegistryOptions"/>).</summary>
internal sealed class QualityRegistry(IOptions<QualityRegistryOptions> options)
{
    private readonly string[] _models = [.. options.Value.KnownModels.Where(g => !string.IsNullOrWhiteSpace(g)).Select(g => g.Trim())];
    private readonly string[] _batches = [.. options.Value.KnownBatches.Where(g => !string.IsNullOrWhiteSpace(g)).Select(g => g.Trim())];

    /// <summary>A registry that accepts everything (no lists configured).</summary>
    public static QualityRegistry Open { get; } = new(Options.Create(new QualityRegistryOptions()));

    public bool Accepts(string model, string batch) =>
        (_models.Length == 0 || _models.Any(g => Glob.IsMatch(g, model)))
        && (_batches.Length == 0 || _batches.Any(g => Glob.IsMatch(g, g.Contains('/', StringComparison.Ordinal) ? $"{model}/{batch}" : batch)));
}
