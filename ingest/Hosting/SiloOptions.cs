namespace Telemetry.Ingest.Hosting;

/// <summary>The Orleans silo hosted in the service. Section <c>Orleans</c>.</summary>
public sealed class SiloOptions
{
    public const string SectionName = "Orleans";

    /// <summary>Silo-to-silo port on localhost. Default 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Gateway port for external Orleans clients. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// Longest wait for a grain call's answer (Orleans' own default is 30 s). A twin store that hangs then holds a
    /// round only this long before the pipeline holds its messages for a retry. Default 10 s.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
