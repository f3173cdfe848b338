namespace Telemetry.Ingest.Broker;

/// <summary>Which broker the service talks to.</summary>
public enum BrokerMode
{
    /// <summary>An MQTTnet broker inside the service (the default; good for development and demos).</summary>
    Embedded,

    /// <summary>An external broker such as Mosquitto (production).</summary>
    External,
}
