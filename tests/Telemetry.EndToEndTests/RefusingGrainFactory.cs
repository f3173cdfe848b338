using System.Reflection;

namespace Telemetry.EndToEndTests;

/// <summary>
/// An <see cref="IGrainFactory"/> for tests without a silo: every call fails, as a grain call does while the silo is
/// away. Made with <c>DispatchProxy.Create&lt;IGrainFactory, RefusingGrainFactory&gt;()</c>, which needs the class
/// unsealed.
/// </summary>
public class RefusingGrainFactory : DispatchProxy
{
    /// <summary>The message of every failure, for tests to tell it from others.</summary>
    public const string Refusal = "No silo in this test.";

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        throw new InvalidOperationException(Refusal);
}
