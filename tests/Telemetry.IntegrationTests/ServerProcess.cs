using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Telemetry.IntegrationTests;

/// <summary>
/// A real server (Mosquitto, InfluxDB, Redis, or the service itself) run as a child process on a free
/// loopback port with its own temporary directory. It is stopped by process id: gracefully, or with
/// SIGKILL to test crashes. A missing binary fails the test with the package to install.
/// </summary>
public abstract class ServerProcess : IAsyncDisposable
{
    private readonly List<string> _output = [];
    private Process? _process;

    protected ServerProcess(string name) => Directory = System.IO.Directory.CreateTempSubdirectory($"telemetry-{name}-").FullName;

    public string Directory { get; }

    public int? ProcessId => _process?.Id;

    /// <summary>The last lines the server printed, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output.TakeLast(40));
            }
        }
    }

    public Task StartAsync() => StartAsync(TimeSpan.FromSeconds(60));

    public async Task StartAsync(TimeSpan readyWithin)
    {
        var (file, args) = Command();
        var info = new ProcessStartInfo(Locate(file)) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Directory };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + readyWithin;
        while (!await IsReadyAsync())
        {
            // A test may stop it while it starts (TerminateAsync), which forgets it here.
            var exited = _process != process || process.HasExited;
            if (exited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{file} did not become ready (exited: {exited}).\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Stops the server: SIGTERM and a wait, or SIGKILL when <paramref name="kill"/>.</summary>
    public async Task StopAsync(bool kill = false)
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }

        if (kill)
        {
            _process.Kill(entireProcessTree: true);
        }
        else
        {
            using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await term!.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _process = null;
    }

    /// <summary>
    /// Sends SIGTERM and waits up to <paramref name="within"/> for the process to exit on its own. Returns its exit
    /// code, or null when it did not exit in time (it is then killed).
    /// </summary>
    public async Task<int?> TerminateAsync(TimeSpan within)
    {
        if (_process is null || _process.HasExited)
        {
            throw new InvalidOperationException("the process is not running");
        }

        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term!.WaitForExitAsync();
        }

        int? exitCode;
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            exitCode = _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            exitCode = null;
        }

        _process.Dispose();
        _process = null;
        return exitCode;
    }

    public virtual async ValueTask DisposeAsync()
    {
        await StopAsync(kill: true);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }

    protected abstract (string File, IReadOnlyList<string> Args) Command();

    protected abstract Task<bool> IsReadyAsync();

    /// <summary>A free loopback port below the kernel's ephemeral range (see <see cref="Telemetry.Tests.TestPorts"/>).</summary>
    public static int FreePort() => Telemetry.Tests.TestPorts.Next();

    protected static async Task<bool> AcceptsTcpAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Ready when the Redis on <paramref name="port"/> is this process: its <c>INFO server</c> names our process id.
    /// Free ports are picked before a server starts (a test may start Redis long after the service that points at
    /// it), so another test's server can hold the port by then; accepting a connection alone would take that
    /// server for ours, and this one would exit on "address in use" unnoticed.
    /// </summary>
    protected async Task<bool> RedisAnswersAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            var stream = client.GetStream();
            await stream.WriteAsync("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"u8.ToArray());
            var buffer = new byte[16384];
            var text = new System.Text.StringBuilder();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (!text.ToString().Contains("\r\nprocess_id:", StringComparison.Ordinal) || !text.ToString().EndsWith("\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    return false;
                }

                text.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, read));
            }

            var line = text.ToString().Split("\r\n").First(l => l.StartsWith("process_id:", StringComparison.Ordinal));
            return int.Parse(line["process_id:".Length..], System.Globalization.CultureInfo.InvariantCulture) == _process?.Id;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
            if (_output.Count > 500)
            {
                _output.RemoveRange(0, 250);
            }
        }
    }

    private static string Locate(string file)
    {
        if (Path.IsPathRooted(file))
        {
            return file;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var candidate = Path.Combine(dir, file);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        var package = file switch { "influxd" => "influxdb", "mosquitto" or "mosquitto_passwd" => "mosquitto", _ => file };
        throw new InvalidOperationException($"{file} is not installed. scripts/test.sh installs it (apt-get install {package}).");
    }
}
