using System.Text;
using Telemetry.Ingest.Uplink;
using Xunit;

namespace Telemetry.UnitTests;

public sealed class BirthDecoderTests
{
    private static (Telemetry.Grains.Ingest.DeviceBirth? Birth, RejectReason Reason, string? Detail) Decode(string json)
    {
        var birth = BirthDecoder.Decode(Encoding.UTF8.GetBytes(json), out var reason, out var detail);
        return (birth, reason, detail);
    }

    [Theory]
    [InlineData("""{"v":1,"kind":"shoe","kind":"band","model":"m","batch":"b","firmware":"1","manufactured":"2025-07-14"}""", "kind appears twice")]
    [InlineData("""{"v":1,"kind":"shoe","model":"m","batch":"b","batch":"c","firmware":"1","manufactured":"2025-07-14"}""", "batch appears twice")]
    [InlineData("""{"v":1,"kind":"shoe","model":"m","batch":"b","firmware":"1","manufactured":"2025-07-14","parts":{"shoe":"A","shoe":"B"}}""", "parts.shoe appears twice")]
    [InlineData("""{"v":1,"kind":"shoe","model":"m","batch":"b","firmware":"1","manufactured":"2025-07-14","parts":{"shoe":"A","shoe":{"x":1}}}""", "parts.shoe appears twice")]
    public void Decode_RejectsARepeatedField(string json, string detail) =>
        Assert.Equal((null, RejectReason.InvalidField, detail), Decode(json));

    [Fact]
    public void Decode_RejectsControlCharactersInTheFirmware()
    {
        var (birth, reason, detail) = Decode("""{"v":1,"kind":"shoe","model":"m","batch":"b","firmware":"1.0\n2","manufactured":"2025-07-14"}""");

        Assert.Null(birth);
        Assert.Equal(RejectReason.InvalidField, reason);
        Assert.Contains("control characters", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_RejectsAPayloadThatIsNotUtf8()
    {
        byte[] payload = [.. """{"v":1,"kind":"shoe","model":"m","batch":"b","firmware":"1"""u8, 0xFF, .. "\",\"manufactured\":\"2025-07-14\"}"u8];

        Assert.Null(BirthDecoder.Decode(payload, out var reason, out _));
        Assert.Equal(RejectReason.MalformedJson, reason);
    }

    private const string Shoe = """{"v":1,"kind":"shoe","model":"m","batch":"b","firmware":"1","manufactured":"2025-07-14" """;

    [Theory]
    [InlineData(",\"locale\":\"en\"", "en")]
    [InlineData(",\"locale\":\"zh-CN\"", "zh-CN")]
    [InlineData(",\"locale\":\"zh-cn\"", "zh-CN")]
    [InlineData(",\"locale\":\"ZH-CN\"", "zh-CN")]
    [InlineData(",\"locale\":\"EN\"", "en")]
    [InlineData("", null)]
    public void Decode_TakesTheLocale_InTheServicesForm_OrNoneWhenAbsent(string field, string? locale)
    {
        var (birth, reason, _) = Decode(Shoe + field + "}");

        Assert.Equal(RejectReason.None, reason);
        Assert.Equal(locale, birth!.Locale);
    }

    [Theory]
    [InlineData("fr-FR")]
    [InlineData("zh")]
    [InlineData("zh_CN")]
    [InlineData("zh-Hans")]
    [InlineData("en-US")]
    [InlineData("")]
    public void Decode_RejectsALocaleWithoutTexts_AsAnInvalidField(string locale) =>
        Assert.Equal((null, RejectReason.InvalidField, "locale must be en or zh-CN"), Decode(Shoe + ",\"locale\":\"" + locale + "\"}"));

    [Theory]
    [InlineData(",\"locale\":1", "locale has the wrong type")]
    [InlineData(",\"locale\":null", "locale has the wrong type")]
    [InlineData(",\"locale\":\"en\",\"locale\":\"zh-CN\"", "locale appears twice")]
    public void Decode_RejectsALocaleThatIsNotOneString(string field, string detail) =>
        Assert.Equal((null, RejectReason.InvalidField, detail), Decode(Shoe + field + "}"));
}
