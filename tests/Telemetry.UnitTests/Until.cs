using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Waits for an outcome a background worker produces, polling it; fails after 20 s naming what never came.</summary>
internal static class Until
{
    public static async Task DoneAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 20 s for {what}");
            await Task.Delay(5);
        }
    }
}
