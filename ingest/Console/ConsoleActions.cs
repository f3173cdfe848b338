using Telemetry.Grains.Alerts;
using Telemetry.Grains.Devices;
using Telemetry.Ingest.Api;

namespace Telemetry.Ingest.Console;

/// <summary>
/// What an operator changes from the console, with the same checks as the HTTP API's routes for it
/// (<c>POST /api/alerts/{id}/ack|resolve</c>, <c>POST /api/devices/{id}/service</c>): the operate scope, an actor of
/// 1 to 100 characters, a note of at most 2000. Each returns null when done, or why not, in words for the page.
/// </summary>
internal sealed class ConsoleActions(ConsoleSession session, IGrainFactory grains)
{
    private const int MaxNote = 2000;

    public async Task<string?> ChangeAlertAsync(string alertId, AlertState target, string? note)
    {
        await session.RequireAsync(ApiScope.Operate);
        if (note is { Length: > MaxNote })
        {
            return $"A note has at most {MaxNote} characters.";
        }

        if (await grains.GetGrain<IAlertIndexGrain>(0).DeviceOfAsync(alertId) is not { } device)
        {
            return $"No alert has the id '{alertId}'.";
        }

        var change = await grains.GetGrain<IDeviceGrain>(device).ChangeAlertAsync(alertId, target, session.Actor, NullIfEmpty(note));
        return change.Outcome switch
        {
            AlertChangeOutcome.NotFound => $"No alert has the id '{alertId}'.",
            AlertChangeOutcome.Conflict => change.Reason ?? "The alert is already resolved.",
            _ => null,
        };
    }

    /// <summary>After-sales replaced <paramref name="part"/>: its wear restarts from new and its alerts resolve.</summary>
    public async Task<string?> ReplacedAsync(string device, string part, string? note)
    {
        await session.RequireAsync(ApiScope.Operate);
        if (part is not ("shoe" or "insole" or "battery" or "band"))
        {
            return "The part is one of shoe, insole, battery, band.";
        }

        if (note is { Length: > MaxNote })
        {
            return $"A note has at most {MaxNote} characters.";
        }

        return await grains.GetGrain<IDeviceGrain>(device).PartReplacedAsync(part, session.Actor, NullIfEmpty(note)) is null
            ? $"No message from device '{device}' has been received."
            : null;
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
