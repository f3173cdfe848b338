using System.Diagnostics;
using System.Globalization;

namespace Telemetry.ChaosTests;

/// <summary>Signals and memory figures of a child process, by its id.</summary>
public static class ProcessSignals
{
    /// <summary>SIGSTOP freezes a server while the kernel keeps accepting its TCP connections; SIGCONT thaws it.</summary>
    public static async Task SendAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]) ?? throw new InvalidOperationException("kill did not start");
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} exited with {kill.ExitCode}");
        }
    }

    /// <summary>A field of /proc/PID/status in MiB (VmRSS now, VmHWM the peak); null once the process is gone.</summary>
    public static double? StatusMiB(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                    return kb / 1024.0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    public static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/status") && StatusMiB(pid, "VmRSS") is not null;
}
