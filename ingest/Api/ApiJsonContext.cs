using System.Text.Json.Serialization;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;

namespace Telemetry.Ingest.Api;

/// <summary>Source-generated JSON for the HTTP API: snake_case names like the MQTT contract, no reflection.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(LowerCaseEnumConverter<AlertSeverity>)])]
[JsonSerializable(typeof(DeviceSnapshot))]
[JsonSerializable(typeof(IngestStats))]
[JsonSerializable(typeof(ClusterView))]
[JsonSerializable(typeof(AlertActionBody))]
[JsonSerializable(typeof(ServiceBody))]
[JsonSerializable(typeof(QualityEventBody))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
