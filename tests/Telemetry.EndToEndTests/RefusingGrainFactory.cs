using System.Reflection;

namespace Telemetry.EndToEndTests;

/// <summary>
/// An <see cref="IGrainFactory"/> for tests without a silo: every call fails, as a grain call does while the silo is
/// away. Made with <c>DispatchProxy.Create&lt;IGrainFactory, RefusingGrainFactory&gt;()</c>, which needs the class
/// unsealed.
/// </summary>
public class RefusingGrainFactory : DispatchProxy
{
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        throw new InvalidOperationException("No silo in this test.");
}
