using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Ingest.Api;

/// <summary>Enums as lower-case strings, matching the MQTT payloads (<c>"warning"</c>, not <c>"Warning"</c>).</summary>
internal sealed class LowerCaseEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.SnakeCaseLower)
    where TEnum : struct, Enum;
