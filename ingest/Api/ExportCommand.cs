using System.Diagnostics;
using System.Globalization;

namespace Telemetry.Ingest.Api;

/// <summary>
/// <c>dotnet run --project ingest -- export defect-rates|alerts --format csv|json|parquet --out FILE
/// [--url http://127.0.0.1:8080] [--api-key KEY] [--model M] [--batch B] [--failure-mode F] [--from T] [--to T]</c>: the HTTP exports from the command line, for scheduled
/// jobs. It asks the running service (so the numbers are the live ones), streams to the file and reports
/// progress. The key defaults to <c>$TELEMETRY_API_KEY</c>, then to the one the service generated.
/// </summary>
internal static class ExportCommand
{
    private const string Usage = "usage: export defect-rates|alerts --format csv|json|parquet --out FILE [--url URL] [--api-key KEY] [--model M] [--batch B] [--failure-mode F] [--from TIME] [--to TIME]";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        if (args is not [("defect-rates" or "alerts") and var what, .. var rest] || rest.Length % 2 != 0)
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < rest.Length; i += 2)
        {
            options[rest[i]] = rest[i + 1];
        }

        if (!options.TryGetValue("--out", out var outPath) || !options.TryGetValue("--format", out var format))
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }

        var url = options.GetValueOrDefault("--url", "http://127.0.0.1:8080").TrimEnd('/');
        var key = options.GetValueOrDefault("--api-key") ?? Environment.GetEnvironmentVariable("TELEMETRY_API_KEY")
            ?? (File.Exists(Path.Combine("data", "api-key")) ? (await File.ReadAllTextAsync(Path.Combine("data", "api-key"))).Trim() : null);
        var query = $"format={Uri.EscapeDataString(format)}";
        foreach (var (option, parameter) in new[] { ("--model", "model"), ("--batch", "batch"), ("--failure-mode", "failure_mode"), ("--from", "from"), ("--to", "to") })
        {
            if (options.TryGetValue(option, out var value))
            {
                query += $"&{parameter}={Uri.EscapeDataString(value)}";
            }
        }

        var path = what == "alerts" ? "/api/alerts/export" : "/api/quality/defect-rates";
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{url}{path}?{query}"));
        if (key is not null)
        {
            request.Headers.Add(ApiKeyAuthenticationHandler.Header, key);
        }

        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (!response.IsSuccessStatusCode)
            {
                await error.WriteLineAsync($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                if (response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
                {
                    await error.WriteLineAsync("exports need a key with the read scope: --api-key KEY or $TELEMETRY_API_KEY");
                }

                return 1;
            }

            await using var source = await response.Content.ReadAsStreamAsync();
            await using var target = File.Create(outPath);
            var buffer = new byte[1 << 16];
            long total = 0;
            var lastReport = TimeSpan.Zero;
            int read;
            while ((read = await source.ReadAsync(buffer)) > 0)
            {
                await target.WriteAsync(buffer.AsMemory(0, read));
                total += read;
                if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(1))
                {
                    lastReport = clock.Elapsed;
                    await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed.TotalSeconds,6:F1} s] {total / 1024.0:F0} KiB"));
                }
            }

            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"wrote {total} bytes of {what} ({format}) to {Path.GetFullPath(outPath)} in {clock.Elapsed.TotalSeconds:F1} s"));
            return 0;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"could not reach the service at {url}: {e.Message}");
            return 1;
        }
    }
}
