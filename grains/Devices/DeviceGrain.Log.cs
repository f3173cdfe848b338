using Microsoft.Extensions.Logging;
using Telemetry.Grains.Alerts;

namespace Telemetry.Grains.Devices;

internal sealed partial class DeviceGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Device {Device}: {Part} replaced ({Actor})")]
    private static partial void LogReplaced(ILogger logger, string device, string part, string actor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device {Device}: delivering its events failed, {Pending} held in its twin; retrying in {Delay}")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, string device, int pending, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device {Device}: leaving the pending-outbox list failed; it is woken once more at the next start")]
    private static partial void LogUnlistFailed(ILogger logger, Exception exception, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device {Device}: saving its delivered outbox failed; those events may be delivered again after a restart")]
    private static partial void LogOutboxSaveFailed(ILogger logger, Exception exception, string device);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Alert {Code} {State} for device {Device}")]
    private static partial void LogAlert(ILogger logger, string device, string code, AlertState state);
}
