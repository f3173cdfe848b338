using System.Net;
using System.Net.Sockets;

namespace Telemetry.Tests;

/// <summary>
/// Loopback ports for the servers and services tests start, picked below Linux's ephemeral range (32768-60999).
/// A port the kernel picks for bind(0) is one it may also give any outgoing connection as its source port, before
/// the server that was meant to have it binds it; influxd, Redis and the service then exit with "address already in
/// use" now and then. Below the range, only listeners take ports, and each is checked free when handed out. One
/// counter per test process, started from its process id, so no two callers of a run get the same port.
/// </summary>
internal static class TestPorts
{
    private const int First = 10_000;
    private const int Count = 22_000;

    private static int _next = Environment.ProcessId % 1_000 * 20;

    /// <summary>A port no socket holds now, and that no other caller in this process has been given.</summary>
    public static int Next()
    {
        for (var tried = 0; tried < Count; tried++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % Count);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: try the next one.
            }
        }

        throw new InvalidOperationException($"no free loopback port between {First} and {First + Count}");
    }
}
