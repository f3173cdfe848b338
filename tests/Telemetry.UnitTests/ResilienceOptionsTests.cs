using Telemetry.Ingest.Hosting;
using Telemetry.Ingest.Pipeline;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>The options of retries, clock drills and shutdown stop start-up with the key named when wrong.</summary>
public sealed class ResilienceOptionsTests
{
    [Theory]
    [InlineData(-1.5, false)]
    [InlineData(-0.25, true)]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(1.01, false)]
    public void ClockOffset_IsLimitedToADay(double days, bool valid)
    {
        var result = new OptionsValidators().Validate(null, new ClockOptions { Offset = TimeSpan.FromDays(days) });

        Assert.Equal(!valid, result.Failed);
        if (!valid)
        {
            Assert.Contains("Clock:Offset", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void OffsetTimeProvider_ShiftsTheSystemClock()
    {
        var slow = new OffsetTimeProvider(TimeSpan.FromMinutes(-10));

        var slowNow = slow.GetUtcNow();
        var difference = TimeProvider.System.GetUtcNow() - slowNow;

        Assert.InRange(difference, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void RetryDelayAboveItsCap_FailsNamingTheKey()
    {
        var result = new OptionsValidators().Validate(null, new PipelineOptions { RetryDelay = TimeSpan.FromSeconds(10), MaxRetryDelay = TimeSpan.FromSeconds(5) });

        Assert.True(result.Failed);
        Assert.Contains("Pipeline:RetryDelay", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ClockSuspicionFromOneDevice_FailsNamingTheKey()
    {
        var result = new OptionsValidators().Validate(null, new PipelineOptions { ClockSuspectDevices = 1 });

        Assert.True(result.Failed);
        Assert.Contains("Pipeline:ClockSuspectDevices", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ShutdownTimeoutOfZero_FailsNamingTheKey()
    {
        var result = new OptionsValidators().Validate(null, new ShutdownOptions { Timeout = TimeSpan.Zero });

        Assert.True(result.Failed);
        Assert.Contains("Shutdown:Timeout", result.FailureMessage, StringComparison.Ordinal);
    }
}
