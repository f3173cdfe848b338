using System.Globalization;
using System.Text.Json;
using Telemetry.Grains.Alerts;
using Telemetry.Grains.Ingest;

namespace Telemetry.Ingest.Uplink;

/// <summary>Decodes and validates a birth message of uplink v1. Births are rare, so clarity wins over speed.</summary>
internal static class BirthDecoder
{
    private const int MaxFirmwareLength = 32;

    /// <summary>Returns the birth, or null with <paramref name="reason"/> and <paramref name="detail"/> set.</summary>
    public static DeviceBirth? Decode(ReadOnlySpan<byte> payload, out RejectReason reason, out string? detail)
    {
        reason = RejectReason.None;
        detail = null;
        if (payload.Length > TelemetryDecoder.MaxPayloadBytes)
        {
            return Fail(RejectReason.PayloadTooLarge, $"{payload.Length} bytes, limit {TelemetryDecoder.MaxPayloadBytes}", out reason, out detail);
        }

        if (!System.Text.Unicode.Utf8.IsValid(payload))
        {
            return Fail(RejectReason.MalformedJson, "payload is not valid UTF-8", out reason, out detail);
        }

        int? version = null;
        string? kind = null, model = null, batch = null, firmware = null, manufactured = null, locale = null;
        double? wearerKg = null, ratedCapacity = null;
        InstalledParts? parts = null;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail(RejectReason.MalformedJson, "payload must be a JSON object", out reason, out detail);
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = reader.GetString();
                if (field is "v" or "kind" or "model" or "batch" or "firmware" or "manufactured" or "wearer_kg" or "rated_capacity_mah" or "parts" or "locale"
                    && !seen.Add(field))
                {
                    // Two values for one field: which did the device mean? Neither is applied.
                    return Fail(RejectReason.InvalidField, $"{field} appears twice", out reason, out detail);
                }

                reader.Read();
                switch (field)
                {
                    case "v" when reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var v):
                        version = v;
                        break;
                    case "kind" or "model" or "batch" or "firmware" or "manufactured" or "locale" when reader.TokenType == JsonTokenType.String:
                        var text = reader.GetString()!;
                        _ = field switch
                        {
                            "kind" => kind = text,
                            "model" => model = text,
                            "batch" => batch = text,
                            "firmware" => firmware = text,
                            "locale" => locale = text,
                            _ => manufactured = text,
                        };
                        break;
                    // A number too large for a double is out of range, like any other number outside the limits.
                    case "wearer_kg" when reader.TokenType == JsonTokenType.Number:
                        wearerKg = reader.TryGetDouble(out var kg) ? kg : double.PositiveInfinity;
                        break;
                    case "rated_capacity_mah" when reader.TokenType == JsonTokenType.Number:
                        ratedCapacity = reader.TryGetDouble(out var mah) ? mah : double.PositiveInfinity;
                        break;
                    case "parts" when reader.TokenType == JsonTokenType.StartObject:
                        parts = ReadParts(ref reader, out var partProblem);
                        if (partProblem is not null)
                        {
                            return Fail(RejectReason.InvalidField, partProblem, out reason, out detail);
                        }

                        break;
                    case "v" or "kind" or "model" or "batch" or "firmware" or "manufactured" or "wearer_kg" or "rated_capacity_mah" or "parts" or "locale":
                        return Fail(RejectReason.InvalidField, $"{field} has the wrong type", out reason, out detail);
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.Read())
            {
                return Fail(RejectReason.MalformedJson, "unexpected content after the object", out reason, out detail);
            }
        }
        catch (JsonException e)
        {
            return Fail(RejectReason.MalformedJson, e.Message, out reason, out detail);
        }
        catch (FormatException e)
        {
            return Fail(RejectReason.InvalidField, e.Message, out reason, out detail);
        }
        catch (InvalidOperationException e)
        {
            // GetString throws this, not JsonException, on invalid UTF-8 or a lone surrogate ("\ud800").
            return Fail(RejectReason.MalformedJson, e.Message, out reason, out detail);
        }

        var missing = version is null ? "v" : kind is null ? "kind" : model is null ? "model" : batch is null ? "batch"
            : firmware is null ? "firmware" : manufactured is null ? "manufactured" : null;
        if (missing is not null)
        {
            return Fail(RejectReason.MissingField, $"{missing} is required", out reason, out detail);
        }

        if (version != 1)
        {
            return Fail(RejectReason.UnsupportedVersion, $"v={version}; this service speaks v=1", out reason, out detail);
        }

        // A locale the service has no texts in is refused like any other invalid field, not quietly replaced by the
        // default: a wearer who chose a language and got another would never learn why, the rejection counter would.
        string? normalLocale = null;
        string? invalid = kind is not ("shoe" or "band") ? "kind must be shoe or band"
            : !UplinkIds.IsModelOrBatchId(model) ? "model must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
            : !UplinkIds.IsModelOrBatchId(batch) ? "batch must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
            : firmware!.Length > MaxFirmwareLength ? $"firmware must be at most {MaxFirmwareLength} characters"
            : firmware.Any(char.IsControl) ? "firmware must not contain control characters"
            : !DateOnly.TryParseExact(manufactured, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _) ? "manufactured must be an ISO date (yyyy-MM-dd)"
            : locale is not null && !AlertLocales.TryNormalize(locale, out normalLocale) ? $"locale must be {string.Join(" or ", AlertLocales.All)}"
            : null;
        if (invalid is not null)
        {
            return Fail(RejectReason.InvalidField, invalid, out reason, out detail);
        }

        if (wearerKg is { } weight && weight is < 30 or > 200)
        {
            return Fail(RejectReason.ValueOutOfRange, FormattableString.Invariant($"wearer_kg={weight} outside 30..200"), out reason, out detail);
        }

        if (ratedCapacity is { } capacity && capacity is <= 0 or > 5000)
        {
            return Fail(RejectReason.ValueOutOfRange, FormattableString.Invariant($"rated_capacity_mah={capacity} outside 0..5000"), out reason, out detail);
        }

        return new DeviceBirth
        {
            Kind = kind!,
            Model = model!,
            Batch = batch!,
            Firmware = firmware!,
            Manufactured = DateOnly.ParseExact(manufactured!, "yyyy-MM-dd", CultureInfo.InvariantCulture),
            WearerKg = wearerKg,
            RatedCapacityMah = ratedCapacity,
            Parts = parts,
            Locale = normalLocale,
        }.WithSharedStrings();
    }

    /// <summary>
    /// <c>"parts":{"shoe":"SN-1","insole":"IN-7"}</c>: a serial per replaceable part (shoe, insole, battery, band),
    /// each like a model id. Part names this version does not know are skipped, as unknown fields are.
    /// </summary>
    private static InstalledParts ReadParts(ref Utf8JsonReader reader, out string? problem)
    {
        problem = null;
        var parts = new InstalledParts();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var part = reader.GetString();
            reader.Read();
            if (!InstalledParts.Names.Contains(part))
            {
                reader.Skip();
                continue;
            }

            var serial = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            if (parts[part!] is not null)
            {
                problem ??= $"parts.{part} appears twice";
                reader.Skip();
                continue;
            }

            if (!UplinkIds.IsModelOrBatchId(serial))
            {
                problem ??= $"parts.{part} must be a string matching ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$";
                reader.Skip();
                continue;
            }

            parts = part switch
            {
                "shoe" => parts with { Shoe = serial },
                "insole" => parts with { Insole = serial },
                "battery" => parts with { Battery = serial },
                _ => parts with { Band = serial },
            };
        }

        return parts;
    }

    private static DeviceBirth? Fail(RejectReason why, string text, out RejectReason reason, out string? detail)
    {
        reason = why;
        detail = text;
        return null;
    }
}
