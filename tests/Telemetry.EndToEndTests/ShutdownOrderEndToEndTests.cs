using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace Telemetry.EndToEndTests;

/// <summary>
/// Hosted services stop in reverse registration order. Graceful shutdown depends on it: the subscriber must stop
/// before the pipeline (no new messages), the pipeline before the outbox and the store (its round still needs
/// them), and all of them before the silo and the embedded broker.
/// </summary>
public sealed class ShutdownOrderEndToEndTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public void HostedServices_StopSubscriberThenPipelineThenOutboxThenSiloThenBroker()
    {
        var names = service.Services.GetServices<IHostedService>().Select(s => s.GetType().Name).ToList();
        int Registered(string name) =>
            names.FindIndex(n => n.StartsWith(name, StringComparison.Ordinal)) is var i and >= 0 ? i : throw new Xunit.Sdk.XunitException($"{name} is not hosted: {string.Join(", ", names)}");

        // Stop order is the reverse of this registration order.
        Assert.True(Registered("EmbeddedBroker") < Registered("SiloHostedService"), string.Join(", ", names));
        Assert.True(Registered("SiloHostedService") < Registered("MqttOutbox"), string.Join(", ", names));
        Assert.True(Registered("MqttOutbox") < Registered("IngestPipeline"), string.Join(", ", names));
        Assert.True(Registered("IngestPipeline") < Registered("MqttIngestService"), string.Join(", ", names));
    }

    [Fact]
    public void ShutdownTimeout_ComesFromShutdownOptions()
    {
        var host = service.Services.GetRequiredService<IOptions<HostOptions>>().Value;

        Assert.Equal(TimeSpan.FromSeconds(20), host.ShutdownTimeout);
    }
}
