using System.Globalization;
using Microsoft.Extensions.Options;
using Telemetry.Grains.Quality;
using Telemetry.Ingest.Broker;
using Telemetry.Models.Simulation;

namespace Telemetry.Ingest.Simulation;

/// <summary>
/// Runs the demo fleet (<c>--simulate N</c>): devices from the shared seeded generator, each connecting
/// through the broker exactly as real firmware does, with the token derived from the device secret. The clock replays a month of wear in the first
/// minutes so alerts appear quickly, then runs in real time.
/// </summary>
internal sealed partial class FleetSimulator(
    IOptions<SimulationOptions> options,
    IOptions<BrokerOptions> broker,
    BrokerSecrets secrets,
    IOptions<Storage.StorageOptions> storage,
    IGrainFactory grains,
    TimeProvider time,
    ILogger<FleetSimulator> logger) : BackgroundService
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Devices <= 0)
        {
            return;
        }

        var start = time.GetUtcNow();
        var directory = storage.Value.DataDirectory;
        var plan = SimulationCheckpoint.Plan(SimulationCheckpoint.Read(directory), settings, start);
        var clock = plan.Clock;
        // A new boot id per run: a restarted fleet starts its seq at 0 again, as rebooted firmware does.
        var boot = "sim" + start.ToUnixTimeSeconds().ToString("x", CultureInfo.InvariantCulture);
        var fleet = FleetGenerator.Create(settings.Devices, settings.Seed, FleetFaults.Default with { OnsetWithin = settings.FaultsWithin });
        var readings = new List<SimulatedReading>();
        foreach (var device in fleet)
        {
            device.Start(plan.DeviceStart);
            if (plan.ResumeFrom is { } from)
            {
                // Where the last run of this fleet got to: what it measured up to there was sent then.
                readings.Clear();
                device.Advance(from, readings);
            }
        }

        var uplinks = fleet.Select(d => new SimulatedUplink(d, boot, settings.ResendAfter, secrets.TokenFor(d.Id))).ToList();
        // Cases the last run reported already are reported again: a failure counts once per device and mode.
        var cases = new Queue<SimulatedReturn>(settings.AfterSales ? SimulatedAfterSales.Cases(fleet, settings.Seed) : []);
        var checkpoint = Path.Combine(directory, SimulationCheckpoint.FileName);
        if (plan.ResumeFrom is { } resumed)
        {
            LogResuming(logger, uplinks.Count, settings.Seed, resumed, checkpoint, clock.Speed);
        }
        else
        {
            LogStarting(logger, uplinks.Count, settings.Seed, clock.SimulatedStart, clock.Speed);
        }

        var reached = plan.ResumeFrom ?? plan.DeviceStart;
        var checkpointFailed = false;
        var lastProgress = start;
        (long Acked, long Pending, int Connected) lastLogged = default;
        using var timer = new PeriodicTimer(settings.Tick, time);
        try
        {
            do
            {
                var now = time.GetUtcNow();
                var simulatedNow = clock.Now(now);
                if (simulatedNow > reached)
                {
                    // Written before the devices measure up to it: a run that follows never sends those readings again.
                    try
                    {
                        new SimulationCheckpoint(settings.Seed, settings.Devices, plan.DeviceStart, simulatedNow).Write(directory);
                        reached = simulatedNow;
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        if (!checkpointFailed)
                        {
                            checkpointFailed = true;
                            LogCheckpointFailed(logger, e, directory);
                        }
                    }
                }

                foreach (var uplink in uplinks)
                {
                    if (!uplink.IsConnected && !await TryConnectAsync(uplink, stoppingToken))
                    {
                        continue;
                    }

                    readings.Clear();
                    uplink.Device.Advance(simulatedNow, readings);
                    uplink.Enqueue(readings);
                    try
                    {
                        await uplink.SendDueAsync(now, stoppingToken);
                    }
                    catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                    {
                        LogSendFailed(logger, e, uplink.Device.Id);
                    }
                }

                while (cases.TryPeek(out var next) && next.At <= simulatedNow)
                {
                    if (!await TryReportAsync(next, stoppingToken))
                    {
                        break;
                    }

                    cases.Dequeue();
                }

                if (now - lastProgress >= ProgressInterval)
                {
                    lastProgress = now;
                    var progress = (Acked: uplinks.Sum(u => u.Acked), Pending: uplinks.Sum(u => u.Pending), Connected: uplinks.Count(u => u.IsConnected));
                    // A fleet with nothing new to say (idle between runs, once caught up) logs nothing, as the summary does.
                    if (progress != lastLogged)
                    {
                        lastLogged = progress;
                        LogProgress(logger, simulatedNow, progress.Acked, progress.Pending, progress.Connected);
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested)
        {
            // The stop. MQTTnet reports a publish cut off by it as a timeout, which stopped the host with a critical line;
            // and a device whose connection goes under a publish or CONNECT sees whatever its torn-down client throws
            // (not connected, disconnected, disposed), not only MqttCommunicationException. Any of them is the stop here.
            LogCutOffByStop(logger, e);
        }
        finally
        {
            foreach (var uplink in uplinks)
            {
                uplink.Dispose();
            }
        }
    }

    /// <summary>What the after-sales system posts to <c>/api/quality/events</c>, handed to the same grain.</summary>
    private async Task<bool> TryReportAsync(SimulatedReturn confirmed, CancellationToken stoppingToken)
    {
        try
        {
            await grains.Batch(confirmed.Model, confirmed.Batch).ReportFailureAsync(
                new FailureReport(confirmed.Device, confirmed.Model, confirmed.Batch, confirmed.FailureMode, confirmed.At, confirmed.Kind));
            return true;
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            // A cancellation too (a grain call Orleans gave up on): retried like any failure, where thrown on it ended the
            // simulator, cancelled, before any stop, which the host logs as a failed BackgroundService.
            LogReportFailed(logger, e, confirmed.Device);
            return false;
        }
    }

    private async Task<bool> TryConnectAsync(SimulatedUplink uplink, CancellationToken stoppingToken)
    {
        try
        {
            await uplink.ConnectAsync(broker.Value.Host, broker.Value.Port, stoppingToken);
            return true;
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogConnectFailed(logger, e, uplink.Device.Id);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulating {Devices} devices (seed {Seed}) from {SimulatedStart:u} at {Speed:0}x until they reach real time")]
    private static partial void LogStarting(ILogger logger, int devices, int seed, DateTimeOffset simulatedStart, double speed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulating {Devices} devices (seed {Seed}) from {Resumed:u}, where their last run on this data directory got to ({Checkpoint}; delete it, or the directory, for a fresh fleet), at {Speed:0}x until they reach real time")]
    private static partial void LogResuming(ILogger logger, int devices, int seed, DateTimeOffset resumed, string checkpoint, double speed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The simulated fleet cannot write its checkpoint in {Directory}; a restart on this directory will send again what it measured since its last checkpoint")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulated time {SimulatedNow:u}: {Acked} messages acked, {Pending} waiting for an ack, {Connected} devices connected")]
    private static partial void LogProgress(ILogger logger, DateTimeOffset simulatedNow, long acked, long pending, int connected);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The simulated after-sales case of {DeviceId} could not be recorded; will retry")]
    private static partial void LogReportFailed(ILogger logger, Exception exception, string deviceId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Simulated device {DeviceId} cannot connect; will retry")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, string deviceId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The stop cut off the simulated fleet's round")]
    private static partial void LogCutOffByStop(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Simulated device {DeviceId} failed to send; will resend")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, string deviceId);
}
