using Telemetry.Ingest.Broker;
using Telemetry.Ingest.Uplink;

namespace Telemetry.Ingest.Mqtt;

/// <summary>
/// What the ingest subscriber subscribes to, and where its delivery probe travels. Alone, it subscribes to the device
/// filters and the probe rides on the telemetry filter (<see cref="DeliveryWatch.Topic"/>). With a shared group the
/// device filters are shared (<c>$share/{group}/devices/+/telemetry</c>...), so a probe on them could be handed to another
/// instance and never come back: each instance then probes on a topic of its own, through a plain subscription.
/// </summary>
internal sealed record SubscriberTopics(IReadOnlyList<string> Filters, string ProbeTopic, string ProbeFilter)
{
    public static SubscriberTopics For(BrokerOptions broker, string clientId)
    {
        string[] devices = [DeviceTopics.BirthFilter, DeviceTopics.TelemetryFilter, DeviceTopics.TelemetryCborFilter];
        if (broker.SharedGroup.Length == 0)
        {
            return new SubscriberTopics(devices, DeliveryWatch.Topic, DeviceTopics.TelemetryFilter);
        }

        // Four levels: no device filter matches it, and '$probe' is no device id, so no device may publish under it.
        var probe = $"devices/$probe/{clientId}/telemetry";
        return new SubscriberTopics([.. devices.Select(f => $"$share/{broker.SharedGroup}/{f}"), probe], probe, probe);
    }
}
