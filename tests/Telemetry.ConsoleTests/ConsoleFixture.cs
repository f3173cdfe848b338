using Telemetry.EndToEndTests;

namespace Telemetry.ConsoleTests;

/// <summary>
/// The demo as <c>--simulate</c> runs it, with a small fleet that replays its history in seconds so the queue has
/// alerts, plus a read-only key, and one headless chromium (Debian's, never a downloaded one) for every test.
/// </summary>
public sealed class ConsoleFixture : ServiceFixture
{
    public const string ReadKey = "console-read-key";

    public ConsoleFixture()
        : base(["--simulate", "40", "--Simulation:CatchUp", "00:00:05", "--Simulation:Tick", "00:00:00.200", "--Simulation:ResendAfter", "00:00:02",
            "--Api:Keys:1:Key", ReadKey, "--Api:Keys:1:Scopes", "read"])
    {
    }

    public ConsoleBrowser Browser { get; } = new();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Browser.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        await base.DisposeAsync();
    }
}
