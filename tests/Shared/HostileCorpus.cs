using System.Globalization;
using System.Text;

namespace Telemetry.Tests.Hostile;

/// <summary>Where a hostile payload is published: <c>devices/{id}/telemetry</c> or <c>devices/{id}/birth</c>.</summary>
public enum HostileTopic
{
    Telemetry,
    Birth,
}

/// <summary>
/// One hostile payload and what the uplink contract (docs/uplink.md) says the service must answer: a reason for
/// the whole message, or the readings it accepts and the index and reason of each one it rejects.
/// </summary>
public sealed record HostileCase(
    string Class,
    string Name,
    HostileTopic Topic,
    byte[] Payload,
    string? MessageReason,
    int AcceptedReadings,
    IReadOnlyList<(int Reading, string Reason)> Rejections)
{
    public override string ToString() => $"{Class}/{Name}";
}

/// <summary>
/// A deterministic corpus of hostile uplink payloads in classes an attacker or broken firmware would try:
/// malformed JSON, deep nesting, huge numbers, NaN and infinity spelled every way, bad seqs, repeated keys,
/// wrong types, reserved and invalid metric names, oversized strings, invalid UTF-8, lone surrogates, empty payloads, truncated
/// payloads, too many readings or metrics, timestamps out of the window, and hostile births. Readings that are
/// valid sit next to the hostile ones, so a test can check that they are still stored. Timestamps are relative
/// to <c>nowMs</c> (the service's clock) and unique within a class, so every accepted reading is one stored point.
/// </summary>
public static class HostileCorpus
{
    public const long DayMs = 86_400_000;

    /// <summary>The corpus, the same for the same <paramref name="nowMs"/> and <paramref name="seed"/>.</summary>
    public static List<HostileCase> Generate(long nowMs, int seed = 20261126)
    {
        var random = new Random(seed);
        var corpus = new List<HostileCase>();
        foreach (var generate in new Func<Builder, IEnumerable<HostileCase>>[]
        {
            MalformedJson, DeepNesting, HugeNumbers, NanAndInfinity, BadSeq, RepeatedKeys, WrongTypes, MetricNames,
            OversizedStrings, InvalidUtf8, LoneSurrogates, Empty, Truncated, TooMany, Timestamps, Births,
        })
        {
            corpus.AddRange(generate(new Builder(nowMs, random)));
        }

        return corpus;
    }

    /// <summary>Topics a device might try to publish on instead of its own, and that the service's parser must refuse.</summary>
    public static IReadOnlyList<string> TopicTricks(string device) =>
    [
        "devices/+/telemetry",
        "devices/#",
        $"devices/{device}/#",
        $"devices/{device}/+",
        $"devices/../{device}-x/telemetry",
        $"devices/{device}/../other/telemetry",
        $"devices/{device}//telemetry",
        $"devices/{device}/telemetry/",
        $"devices/{device}/telemetry/x",
        $"devices/{device}/TELEMETRY",
        $"/devices/{device}/telemetry",
        "devices//telemetry",
        "devices/shöe-1/telemetry",
        "devices/shoe\u00a01/telemetry",
        "devices/shoe 1/telemetry",
        "devices/shoe.1/telemetry",
        "devices/-shoe/telemetry",
        $"devices/{new string('a', 65)}/telemetry",
        "devices/%2e%2e/telemetry",
        "devices/\u202eshoe-1/telemetry",
        "$SYS/broker/uptime",
        $"devices/{device}/ack",
        $"devices/{device}/errors",
        $"alerts/{device}",
        $"quality/{device}/x",
    ];

    private static IEnumerable<HostileCase> MalformedJson(Builder b)
    {
        // A character that is never valid between JSON tokens, inserted right after a structural character.
        string[] intruders = [";", "=", "'", "\u0001", "x", "}", "]", ":", ",,", "/*c*/", "//c\n", "\\"];
        for (var i = 0; i < 420; i++)
        {
            var valid = b.Plain(b.Valid(), b.Valid());
            var positions = Enumerable.Range(0, valid.Length).Where(p => valid[p] is '{' or '[' or ',' or ':' && !InsideString(valid, p)).ToList();
            var at = positions[b.Random.Next(positions.Count)] + 1;
            var intruder = intruders[i % intruders.Length];
            yield return Builder.Message("malformed", $"intruder-{i}", valid.Insert(at, intruder), "malformed_json");
        }

        string[] broken =
        [
            "[]", "\"text\"", "42", "null", "true", "{} {}", "{\"v\":1}x", "x{\"v\":1}", "{'v':1}", "{\"v\":1,}", "{,}", "{\"v\"}",
            "{\"v\":1 \"boot\":\"b\"}", "\u0000", "{\"v\":01}", "{\"v\":1.}", "{\"v\":.5}", "{\"v\":-}", "{\"v\":TRUE}", "{\"v\":undefined}",
        ];
        for (var i = 0; i < broken.Length; i++)
        {
            yield return Builder.Message("malformed", $"literal-{i}", broken[i], "malformed_json");
        }
    }

    private static IEnumerable<HostileCase> DeepNesting(Builder b)
    {
        for (var depth = 9; depth < 69; depth++)
        {
            var open = depth % 2 == 0 ? string.Concat(Enumerable.Repeat("[", depth)) : string.Concat(Enumerable.Repeat("{\"a\":", depth));
            var close = depth % 2 == 0 ? new string(']', depth) : new string('}', depth);
            var nested = depth % 2 == 0 ? $"{open}1{close}" : $"{open}1{close}";
            yield return Builder.Message("nesting", $"top-{depth}", b.Telemetry(extra: $"\"deep\":{nested}", readings: [b.Valid()]), "malformed_json");
        }

        for (var depth = 6; depth < 46; depth++)
        {
            var nested = string.Concat(Enumerable.Repeat("[", depth)) + "1" + new string(']', depth);
            yield return Builder.Message("nesting", $"metric-{depth}", b.Plain(b.Valid(), b.Reading($"\"steps\":{nested}")), "malformed_json");
        }
    }

    private static IEnumerable<HostileCase> HugeNumbers(Builder b)
    {
        string[] huge = ["1e309", "-1e309", "1e400", "-1e400", "1.7976931348623159e308", "9e99999", new string('9', 400), "-" + new string('9', 400), "1" + new string('0', 330) + ".5"];
        string[] metrics = ["distance_m", "impact_g", "steps", "heel_wear_mm"];
        for (var i = 0; i < huge.Length * metrics.Length * 2; i++)
        {
            var value = huge[i % huge.Length];
            var metric = metrics[i / huge.Length % metrics.Length];
            yield return b.Readings("huge", $"metric-{i}", [b.Valid(), b.Reading($"\"{metric}\":{value}"), b.Valid()], (1, "value_out_of_range"));
        }

        string[] seqs = ["4294967296", "1e30", new string('9', 400), "18446744073709551616"];
        foreach (var seq in seqs)
        {
            yield return Builder.Message("huge", $"seq-{seq.Length}", b.Telemetry(seqText: seq, readings: [b.Valid()]), "invalid_field");
        }

        string[] timestamps = ["9223372036854775808", "1e19", new string('9', 400), "-9223372036854775809"];
        foreach (var ts in timestamps)
        {
            yield return b.Readings("huge", $"ts-{ts.Length}", [b.Valid(), $"{{\"ts\":{ts},\"m\":{{\"steps\":1}}}}"], (1, "invalid_field"));
        }

        yield return Builder.Message("huge", "version", b.Telemetry(versionText: "99999999999", readings: [b.Valid()]), "invalid_field");
    }

    private static IEnumerable<HostileCase> NanAndInfinity(Builder b)
    {
        // Not JSON at all: the whole message is malformed.
        string[] bare = ["NaN", "nan", "-NaN", "+NaN", "Infinity", "-Infinity", "+Infinity", "infinity", "inf", "-inf", "INF", "1.#INF", "1.#QNAN", "∞", "-∞", "+1", "0x10", "1e", "1e+", "--1", "Nan", "NAN", "Inf", "+inf"];
        foreach (var token in bare)
        {
            yield return Builder.Message("nan", $"bare-{token}", b.Plain(b.Valid(), b.Reading($"\"impact_g\":{token}")), "malformed_json");
        }

        // Strings: well-formed JSON, but not numbers.
        string[] quoted = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", "12", "", " 5", "∞"];
        foreach (var text in quoted)
        {
            yield return b.Readings("nan", $"string-{text}", [b.Reading($"\"impact_g\":\"{text}\""), b.Valid()], (0, "not_a_number"));
        }

        // Numbers that overflow to infinity.
        foreach (var text in new[] { "1e999", "-1e999", "2e308", "-2e308" })
        {
            yield return b.Readings("nan", $"overflow-{text}", [b.Valid(), b.Reading($"\"battery_pct\":{text}")], (1, "value_out_of_range"));
        }
    }

    private static IEnumerable<HostileCase> BadSeq(Builder b)
    {
        string[] seqs = ["-1", "-4294967296", "4294967296", "4294967297", "1.5", "0.0", "1e3", "-0.5", "\"5\"", "null", "true", "[]", "{}", "[1]", "\"\""];
        foreach (var seq in seqs)
        {
            yield return Builder.Message("seq", $"literal-{seq}", b.Telemetry(seqText: seq, readings: [b.Valid()]), "invalid_field");
        }

        for (var i = 0; i < 60; i++)
        {
            // Negative, or past uint32: a seq that wrapped on the device or was never an unsigned counter.
            var seq = i % 2 == 0
                ? (-1 - b.Random.NextInt64(0, long.MaxValue / 2)).ToString(CultureInfo.InvariantCulture)
                : (4_294_967_296L + b.Random.NextInt64(0, long.MaxValue / 2)).ToString(CultureInfo.InvariantCulture);
            yield return Builder.Message("seq", $"random-{i}", b.Telemetry(seqText: seq, readings: [b.Valid()]), "invalid_field");
        }
    }

    private static IEnumerable<HostileCase> RepeatedKeys(Builder b)
    {
        for (var i = 0; i < 30; i++)
        {
            yield return Builder.Message("repeated", $"v-{i}", b.Telemetry(extra: $"\"v\":{1 + (i % 3)}", readings: [b.Valid()]), "invalid_field");
            yield return Builder.Message("repeated", $"boot-{i}", b.Telemetry(extra: $"\"boot\":\"r{i}\"", readings: [b.Valid()]), "invalid_field");
            yield return Builder.Message("repeated", $"seq-{i}", b.Telemetry(extra: $"\"seq\":{i}", readings: [b.Valid()]), "invalid_field");
            yield return Builder.Message("repeated", $"readings-{i}", b.Telemetry(extra: $"\"readings\":[{b.Valid()}]", readings: [b.Valid()]), "invalid_field");
        }

        for (var i = 0; i < 20; i++)
        {
            var ts = b.NextTs();
            yield return b.Readings("repeated", $"ts-{i}", [$"{{\"ts\":{ts},\"ts\":{ts - 1},\"m\":{{\"steps\":1}}}}", b.Valid()], (0, "invalid_field"));
            yield return b.Readings("repeated", $"m-{i}", [b.Valid(), $"{{\"ts\":{b.NextTs()},\"m\":{{\"steps\":1}},\"m\":{{\"steps\":2}}}}"], (1, "invalid_field"));
            var metric = i % 2 == 0 ? "steps" : "heel_wear_mm";
            yield return b.Readings("repeated", $"metric-{i}", [b.Reading($"\"{metric}\":1,\"distance_m\":2,\"{metric}\":3"), b.Valid()], (0, "invalid_field"));
        }
    }

    private static IEnumerable<HostileCase> WrongTypes(Builder b)
    {
        string[] values = ["\"1\"", "true", "null", "[]", "{}", "[1]", "{\"a\":1}", "1.0", "-1"];
        foreach (var value in values)
        {
            var versionReason = value is "-1" ? "unsupported_version" : "invalid_field";
            yield return Builder.Message("types", $"v-{value}", b.Telemetry(versionText: value, readings: [b.Valid()]), versionReason);
            if (value is not ("1.0" or "-1" or "[1]"))
            {
                yield return Builder.Message("types", $"readings-{value}", b.Telemetry(readingsText: value), "invalid_field");
            }

            if (value != "\"1\"")
            {
                yield return Builder.Message("types", $"boot-{value}", b.Telemetry(bootText: value, readings: [b.Valid()]), "invalid_field");
            }

            if (value is not ("\"1\"" or "-1"))
            {
                yield return b.Readings("types", $"ts-{value}", [$"{{\"ts\":{value},\"m\":{{\"steps\":1}}}}", b.Valid()], (0, "invalid_field"));
            }

            if (value is not ("{}" or "{\"a\":1}"))
            {
                yield return b.Readings("types", $"m-{value}", [b.Valid(), $"{{\"ts\":{b.NextTs()},\"m\":{value}}}"], (1, "invalid_field"));
                yield return b.Readings("types", $"reading-{value}", [b.Valid(), value], (1, "invalid_field"));
            }

            if (value is not ("1.0" or "-1"))
            {
                yield return b.Readings("types", $"metric-{value}", [b.Reading($"\"impact_g\":{value}"), b.Valid()], (0, "not_a_number"));
            }
        }

        yield return b.Readings("types", "readings-of-numbers", ["1", "2"], (0, "invalid_field"), (1, "invalid_field"));
        yield return b.Readings("types", "m-empty", [b.Valid(), $"{{\"ts\":{b.NextTs()},\"m\":{{}}}}"], (1, "invalid_field"));
        yield return b.Readings("types", "missing-ts", [$"{{\"m\":{{\"steps\":1}}}}", b.Valid()], (0, "missing_field"));
        yield return b.Readings("types", "missing-m", [b.Valid(), $"{{\"ts\":{b.NextTs()}}}"], (1, "missing_field"));
        yield return b.Readings("types", "fractional-integer", [b.Reading("\"steps\":10.5"), b.Valid()], (0, "invalid_field"));
        yield return Builder.Message("types", "readings-empty", b.Telemetry(readingsText: "[]"), "invalid_field");
        yield return Builder.Message("types", "v-2", b.Telemetry(versionText: "2", readings: [b.Valid()]), "unsupported_version");
        foreach (var missing in new[] { "v", "boot", "seq", "readings" })
        {
            yield return Builder.Message("types", $"missing-{missing}", b.Telemetry(omit: missing, readings: [b.Valid()]), "missing_field");
        }
    }

    private static IEnumerable<HostileCase> MetricNames(Builder b)
    {
        string[] reserved = ["seq", "boot", "time", "device", "model", "batch"];
        foreach (var name in reserved)
        {
            for (var i = 0; i < 8; i++)
            {
                var value = i % 2 == 0 ? "1" : "123456";
                var readings = new List<string> { b.Valid(), b.Valid() };
                readings.Insert(i % 3, b.Reading($"\"steps\":5,\"{name}\":{value}"));
                yield return b.Readings("names", $"reserved-{name}-{i}", [.. readings], (i % 3, "invalid_metric_name"));
            }
        }

        string[] invalid =
        [
            "Steps", "STEPS", "1steps", "_steps", "steps-1", "steps.1", "st eps", "steps\\u0000", "stéps", "步数", "",
            "a" + new string('b', 64), "$type", "steps\\n", "impact_g ", " impact_g", "x/y", "#", "+", "a,b=c",
        ];
        for (var i = 0; i < invalid.Length * 3; i++)
        {
            var name = invalid[i % invalid.Length];
            yield return b.Readings("names", $"invalid-{i}", [b.Valid(), b.Reading($"\"{name}\":1"), b.Valid()], (1, "invalid_metric_name"));
        }
    }

    private static IEnumerable<HostileCase> OversizedStrings(Builder b)
    {
        foreach (var length in new[] { 33, 34, 64, 100, 1000, 10_000, 60_000 })
        {
            yield return Builder.Message("oversized", $"boot-{length}", b.Telemetry(bootText: $"\"{new string('b', length)}\"", readings: [b.Valid()]), "invalid_field");
        }

        foreach (var length in new[] { 65, 66, 128, 1000, 10_000, 60_000 })
        {
            yield return b.Readings("oversized", $"metric-name-{length}", [b.Reading($"\"{new string('m', length)}\":1"), b.Valid()], (0, "invalid_metric_name"));
        }

        foreach (var length in new[] { 65_537, 70_000, 100_000, 1_000_000 })
        {
            yield return Builder.Message("oversized", $"payload-{length}", b.Telemetry(extra: $"\"pad\":\"{new string('p', length)}\"", readings: [b.Valid()]), "payload_too_large");
            yield return Builder.Birth("oversized", $"birth-payload-{length}", BirthText(extra: $"\"pad\":\"{new string('p', length)}\""), "payload_too_large");
        }

        foreach (var length in new[] { 33, 100, 10_000 })
        {
            yield return Builder.Birth("oversized", $"firmware-{length}", BirthText(firmware: new string('f', length)), "invalid_field");
        }

        foreach (var length in new[] { 65, 1000 })
        {
            yield return Builder.Birth("oversized", $"model-{length}", BirthText(model: new string('m', length)), "invalid_field");
            yield return Builder.Birth("oversized", $"batch-{length}", BirthText(batch: new string('b', length)), "invalid_field");
        }
    }

    private static IEnumerable<HostileCase> InvalidUtf8(Builder b)
    {
        byte[][] sequences =
        [
            [0xFF], [0xFE], [0xC3, 0x28], [0xA0, 0xA1], [0xE2, 0x28, 0xA1], [0xE2, 0x82, 0x28], [0xF0, 0x28, 0x8C, 0xBC],
            [0xF0, 0x90, 0x28, 0xBC], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F], [0x80],
        ];
        for (var i = 0; i < sequences.Length * 5; i++)
        {
            var bad = sequences[i % sequences.Length];
            var where = i / sequences.Length;
            var text = where switch
            {
                0 => b.Telemetry(extra: "\"note\":\"@@\"", readings: [b.Valid()]),
                1 => b.Telemetry(bootText: "\"b@@\"", readings: [b.Valid()]),
                2 => b.Plain(b.Valid(), b.Reading("\"st@@eps\":1")),
                3 => b.Telemetry(extra: "\"n@@\":1", readings: [b.Valid()]),
                _ => null,
            };
            yield return text is null
                ? Builder.BirthBytes("utf8", $"birth-{i}", Splice(BirthText(firmware: "1.@@"), bad), "malformed_json")
                : Builder.MessageBytes("utf8", $"telemetry-{i}", Splice(text, bad), "malformed_json");
        }
    }

    /// <summary>Escapes of lone UTF-16 surrogates: valid UTF-8 bytes, but text no decoder can turn into a string.</summary>
    private static IEnumerable<HostileCase> LoneSurrogates(Builder b)
    {
        string[] escapes = ["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud800\\ud800", "\\udc00\\ud800", "a\\ud83d", "\\ud83dx"];
        foreach (var escape in escapes)
        {
            yield return Builder.Message("surrogates", $"field-{escape}", b.Telemetry(extra: $"\"{escape}\":1", readings: [b.Valid()]), "malformed_json");
            yield return Builder.Message("surrogates", $"reading-field-{escape}", b.Plain(b.Valid(), $"{{\"{escape}\":1,\"ts\":{b.NextTs()},\"m\":{{\"steps\":1}}}}"), "malformed_json");
            yield return Builder.Message("surrogates", $"metric-{escape}", b.Plain(b.Valid(), b.Reading($"\"{escape}\":1")), "malformed_json");
            yield return Builder.Birth("surrogates", $"birth-field-{escape}", BirthText(extra: $"\"{escape}\":1"), "malformed_json");
            yield return Builder.Birth("surrogates", $"birth-value-{escape}", BirthText(firmware: escape), "malformed_json");
        }

        // The value of a field the service ignores is not read, whatever it holds.
        yield return b.Readings("surrogates", "ignored-value", [b.Valid()]) with
        {
            Payload = Encoding.UTF8.GetBytes(b.Telemetry(extra: "\"note\":\"\\ud800\"", readings: [b.Valid()])),
        };
    }

    private static IEnumerable<HostileCase> Empty(Builder b)
    {
        string[] empty = ["", " ", "\n", "\t\r\n", "\u0000", "{", "}", "{}", "[]", "null", "\"\"", "0"];
        foreach (var text in empty)
        {
            var reason = text == "{}" ? "missing_field" : "malformed_json";
            yield return Builder.Message("empty", $"telemetry-{Escape(text)}", text, reason);
            if (text.Length > 0)
            {
                // An empty birth payload clears the retained birth and is not an error; the rest are.
                yield return Builder.Birth("empty", $"birth-{Escape(text)}", text, text == "{}" ? "missing_field" : "malformed_json");
            }
        }
    }

    private static IEnumerable<HostileCase> Truncated(Builder b)
    {
        for (var i = 0; i < 640; i++)
        {
            var whole = i % 5 == 4 ? BirthText(parts: "{\"shoe\":\"S-1\",\"insole\":\"I-2\"}") : b.Plain(b.Valid(), b.Reading("\"impact_g\":9.5,\"contact_ms\":220"), b.Valid());
            // Cut strictly inside the object: every prefix of a JSON object is incomplete.
            var cut = 1 + b.Random.Next(whole.Length - 2);
            yield return i % 5 == 4
                ? Builder.Birth("truncated", $"birth-{i}-at-{cut}", whole[..cut], "malformed_json")
                : Builder.Message("truncated", $"telemetry-{i}-at-{cut}", whole[..cut], "malformed_json");
        }
    }

    private static IEnumerable<HostileCase> TooMany(Builder b)
    {
        foreach (var count in new[] { 501, 502, 600, 1000, 1500 })
        {
            yield return Builder.Message("too-many", $"readings-{count}", b.Plain([.. Enumerable.Range(0, count).Select(_ => b.Reading("\"steps\":1"))]), "too_many_readings");
        }

        foreach (var count in new[] { 33, 34, 40, 64, 200 })
        {
            var metrics = string.Join(',', Enumerable.Range(0, count).Select(m => $"\"x{m}\":1"));
            yield return b.Readings("too-many", $"metrics-{count}", [b.Valid(), b.Reading(metrics)], (1, "too_many_metrics"));
        }

        yield return b.Readings("too-many", "readings-500", [.. Enumerable.Range(0, 500).Select(_ => b.Valid())]);
    }

    private static IEnumerable<HostileCase> Timestamps(Builder b)
    {
        long[] future = [b.NowMs + 300_001 + 60_000, b.NowMs + 3_600_000, b.NowMs + (365 * DayMs), 253_402_300_799_000, long.MaxValue];
        long[] past = [0, -1, 946_684_799_999, 1_000, b.NowMs - (31 * DayMs), b.NowMs - (400 * DayMs), long.MinValue, -62_135_596_800_000];
        for (var i = 0; i < 10; i++)
        {
            foreach (var ts in future)
            {
                yield return b.Readings("time", $"future-{ts}-{i}", [b.Valid(), $"{{\"ts\":{ts},\"m\":{{\"steps\":1}}}}", b.Valid()], (1, "timestamp_in_future"));
            }

            foreach (var ts in past)
            {
                yield return b.Readings("time", $"past-{ts}-{i}", [$"{{\"ts\":{ts},\"m\":{{\"steps\":1}}}}", b.Valid()], (0, "timestamp_too_old"));
            }
        }
    }

    private static IEnumerable<HostileCase> Births(Builder b)
    {
        foreach (var kind in new[] { "sock", "SHOE", "", "shoe ", "band\\u0000", "shoe\\nband" })
        {
            yield return Builder.Birth("birth", $"kind-{Escape(kind)}", BirthText(kind: kind), "invalid_field");
        }

        string[] ids = ["a b", "a/b", "a+b", "a#b", "../x", "-x", ".x", "ü", "a\\u0000b", "a$b", "a,b", "a=b", "a\\\"b", ""];
        foreach (var id in ids)
        {
            yield return Builder.Birth("birth", $"model-{Escape(id)}", BirthText(model: id), "invalid_field");
            yield return Builder.Birth("birth", $"batch-{Escape(id)}", BirthText(batch: id), "invalid_field");
            yield return Builder.Birth("birth", $"part-{Escape(id)}", BirthText(parts: $"{{\"shoe\":\"{id}\"}}"), "invalid_field");
        }

        foreach (var date in new[] { "2025-13-01", "2025-02-30", "yesterday", "20250714", "2025-7-14", "2025-07-14T00:00:00Z", "" })
        {
            yield return Builder.Birth("birth", $"manufactured-{date}", BirthText(manufactured: date), "invalid_field");
        }

        foreach (var kg in new[] { "29.9", "200.1", "-1", "0", "1e400", "-1e400" })
        {
            yield return Builder.Birth("birth", $"wearer-{kg}", BirthText(extra: $"\"wearer_kg\":{kg}"), "value_out_of_range");
        }

        foreach (var mah in new[] { "0", "-5", "5000.1", "1e309" })
        {
            yield return Builder.Birth("birth", $"capacity-{mah}", BirthText(kind: "band", extra: $"\"rated_capacity_mah\":{mah}"), "value_out_of_range");
        }

        foreach (var wrong in new[] { "\"72\"", "null", "true", "[]", "{}" })
        {
            yield return Builder.Birth("birth", $"wearer-type-{wrong}", BirthText(extra: $"\"wearer_kg\":{wrong}"), "invalid_field");
            yield return Builder.Birth("birth", $"parts-type-{wrong}", BirthText(parts: wrong), wrong == "{}" ? null : "invalid_field");
        }

        foreach (var field in new[] { "kind", "model", "batch", "firmware", "manufactured", "wearer_kg" })
        {
            yield return Builder.Birth("birth", $"repeated-{field}", BirthText(extra: field == "wearer_kg" ? "\"wearer_kg\":70,\"wearer_kg\":71" : $"\"{field}\":\"x\""), "invalid_field");
        }

        foreach (var version in new[] { "2", "0", "-1" })
        {
            yield return Builder.Birth("birth", $"version-{version}", BirthText(version: version), "unsupported_version");
        }

        foreach (var missing in new[] { "v", "kind", "model", "batch", "firmware", "manufactured" })
        {
            yield return Builder.Birth("birth", $"missing-{missing}", BirthText(omit: missing), "missing_field");
        }

        yield return Builder.Birth("birth", "firmware-control", BirthText(firmware: "1.0\\u0007"), "invalid_field");
        yield return Builder.Birth("birth", "parts-repeated", BirthText(parts: "{\"shoe\":\"A\",\"shoe\":\"B\"}"), "invalid_field");
    }

    /// <summary>A birth payload; every argument replaces one field of a valid shoe birth.</summary>
    private static string BirthText(
        string kind = "shoe", string model = "aerorun-3", string batch = "2025w28-sz2", string firmware = "1.4.2", string manufactured = "2025-07-14",
        string? parts = null, string? extra = null, string version = "1", string? omit = null)
    {
        var fields = new List<(string Name, string Json)>
        {
            ("v", version), ("kind", $"\"{kind}\""), ("model", $"\"{model}\""), ("batch", $"\"{batch}\""),
            ("firmware", $"\"{firmware}\""), ("manufactured", $"\"{manufactured}\""),
        };
        if (parts is not null)
        {
            fields.Add(("parts", parts));
        }

        var text = "{" + string.Join(',', fields.Where(f => f.Name != omit).Select(f => $"\"{f.Name}\":{f.Json}"));
        return text + (extra is null ? "}" : $",{extra}}}");
    }

    private static byte[] Splice(string text, byte[] bytes)
    {
        var at = text.IndexOf("@@", StringComparison.Ordinal);
        return [.. Encoding.UTF8.GetBytes(text[..at]), .. bytes, .. Encoding.UTF8.GetBytes(text[(at + 2)..])];
    }

    private static bool InsideString(string json, int position)
    {
        var inside = false;
        for (var i = 0; i < position; i++)
        {
            if (json[i] == '\\' && inside)
            {
                i++;
            }
            else if (json[i] == '"')
            {
                inside = !inside;
            }
        }

        return inside;
    }

    private static string Escape(string text) => string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) ? c.ToString() : $"x{(int)c:x}"));

    /// <summary>Builds the payloads of one class: its own seq counter and a timestamp for every reading.</summary>
    private sealed class Builder(long nowMs, Random random)
    {
        private uint _seq;
        private long _ts = nowMs - 60_000;

        public long NowMs => nowMs;

        public Random Random => random;

        /// <summary>A fresh timestamp, one second before the last, so every reading of a class is its own point.</summary>
        public long NextTs() => _ts -= 1_000;

        public string Reading(string metrics) => $"{{\"ts\":{NextTs()},\"m\":{{{metrics}}}}}";

        public string Valid() => Reading("\"distance_m\":1000,\"steps\":900");

        public string Plain(params string[] readings) => Telemetry(readings: readings);

        public string Telemetry(
            string[]? readings = null, string? extra = null, string? seqText = null, string? versionText = null, string? bootText = null,
            string? readingsText = null, string? omit = null)
        {
            var fields = new List<(string Name, string Json)>
            {
                ("v", versionText ?? "1"),
                ("boot", bootText ?? "\"hostile\""),
                ("seq", seqText ?? (_seq++).ToString(CultureInfo.InvariantCulture)),
                ("readings", readingsText ?? $"[{string.Join(',', readings ?? [])}]"),
            };
            var text = "{" + string.Join(',', fields.Where(f => f.Name != omit).Select(f => $"\"{f.Name}\":{f.Json}"));
            return text + (extra is null ? "}" : $",{extra}}}");
        }

        public static HostileCase Message(string @class, string name, string text, string reason) =>
            MessageBytes(@class, name, Encoding.UTF8.GetBytes(text), reason);

        public static HostileCase MessageBytes(string @class, string name, byte[] payload, string reason) =>
            new(@class, name, HostileTopic.Telemetry, payload, reason, 0, []);

        /// <summary>A well-formed message whose readings are accepted except the <paramref name="rejections"/>.</summary>
        public HostileCase Readings(string @class, string name, string[] readings, params (int Reading, string Reason)[] rejections) =>
            new(@class, name, HostileTopic.Telemetry, Encoding.UTF8.GetBytes(Telemetry(readings: readings)), null, readings.Length - rejections.Length, rejections);

        public static HostileCase Birth(string @class, string name, string text, string? reason) =>
            BirthBytes(@class, name, Encoding.UTF8.GetBytes(text), reason);

        public static HostileCase BirthBytes(string @class, string name, byte[] payload, string? reason) =>
            new(@class, name, HostileTopic.Birth, payload, reason, 0, []);
    }
}
