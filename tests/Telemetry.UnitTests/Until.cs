using Xunit;

namespace Telemetry.UnitTests;

/// <summary>Waits for an outcome a background worker produces, polling it; fails after 20 s naming what never came.</summary>
internal static class Until
{
    /// <param name="done">The outcome.</param>
    /// <param name="what">What it is, for the failure.</param>
    /// <param name="advance">A fake clock moved on by 100 ms at each poll, for outcomes that come after a wait of the
    /// worker's (a retry).</param>
    public static async Task DoneAsync(Func<bool> done, string what, Microsoft.Extensions.Time.Testing.FakeTimeProvider? advance = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"waited 20 s for {what}");
            advance?.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(5);
        }
    }
}
