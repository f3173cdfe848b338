using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// What the ingest subscriber subscribes to, and where its delivery probe travels. Alone, it subscribes to the device
/// filters and the probe rides on the telemetry filter (<see cref="DeliveryWatch.Topic"/>). With a shared group the
/// device filters are shared (<c>$share/{group}/devices/+/telemetry</c>...), so a probe on them could be handed to another
/// instance and never come back: each instance then probes on a topic of its own, through a plain subscription.
/// </summary>
/// <param name="Filters">What to subscribe to.</param>
/// <param name="ProbeTopic">Where the delivery probe is published.</param>
/// <param name="ProbeFilter">The filter the probe comes back through.</param>
/// <param name="Stale">Filters of the other mode, unsubscribed after subscribing: a persistent session keeps its
/// subscriptions, so an instance moved into a shared group under the same client id would otherwise go on receiving
/// every message through its old plain subscription, besides its share.</param>
internal sealed record SubscriberTopics(IReadOnlyList<string> Filters, string ProbeTopic, string ProbeFilter, IReadOnlyList<string> Stale)
{
    public static SubscriberTopics For(BrokerOptions broker, string clientId)
    {
        string[] devices = [DeviceTopics.BirthFilter, DeviceTopics.TelemetryFilter, DeviceTopics.TelemetryCborFilter];
        if (broker.SharedGroup.Length == 0)
        {
            // The shared filters of an earlier group are not known here; docs/deployment.md says to remove the session.
            return new SubscriberTopics(devices, DeliveryWatch.Topic, DeviceTopics.TelemetryFilter, []);
        }

        // Four levels: no device filter matches it, and '$probe' is no device id, so no device may publish under it.
        var probe = $"devices/$probe/{clientId}/telemetry";
        return new SubscriberTopics([.. devices.Select(f => $"$share/{broker.SharedGroup}/{f}"), probe], probe, probe, devices);
    }
}
