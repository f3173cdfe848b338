using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Telemetry.Grains.Devices;
using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Api;

/// <summary>
/// The twin as JSON, whole for admin keys, and without its personal fields for everyone else: the wearer's
/// weight (<c>birth.wearer_kg</c>) and <c>last_values</c> (the latest readings, such as a band's heart rate).
/// The fields are left out rather than nulled, so a reader cannot tell a withheld value from a missing one
/// by its shape. Both are source-generated metadata; the second only drops properties.
/// </summary>
internal static class TwinJson
{
    public static JsonTypeInfo<DeviceSnapshot> Whole => ApiJsonContext.Default.DeviceSnapshot;

    public static readonly JsonTypeInfo<DeviceSnapshot> WithoutPersonalFields = (JsonTypeInfo<DeviceSnapshot>)new JsonSerializerOptions(ApiJsonContext.Default.Options)
    {
        TypeInfoResolver = ApiJsonContext.Default.WithAddedModifier(DropPersonalFields),
    }.GetTypeInfo(typeof(DeviceSnapshot));

    private static void DropPersonalFields(JsonTypeInfo type)
    {
        var personal = type.Type == typeof(DeviceSnapshot) ? "last_values" : type.Type == typeof(DeviceBirth) ? "wearer_kg" : null;
        if (personal is not null && type.Properties.FirstOrDefault(p => p.Name == personal) is { } property)
        {
            type.Properties.Remove(property);
        }
    }
}
