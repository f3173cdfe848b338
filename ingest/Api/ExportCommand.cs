using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Telemetry.Ingest.Cli;
using Telemetry.Models.Cli;

namespace Telemetry.Ingest.Api;

/// <summary>
/// <c>dotnet run --project ingest -- export defect-rates|alerts --format csv|json|parquet --out FILE [options]</c>
/// (<c>export --help</c> lists them): the HTTP exports from the command line, for scheduled jobs. It asks the running service (so the numbers are the live ones), streams to the file and reports
/// progress. The key defaults to <c>$TELEMETRY_API_KEY</c>, then to the one the service generated.
/// </summary>
internal static class ExportCommand
{
    /// <summary>Runs <c>export ARGS</c> as the command line does; the end-to-end tests call it in process.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        IngestCommandLine.InvokeAsync(["export", .. args], _ => throw new InvalidOperationException("export does not run the service"), output, error);

    public static Command Create()
    {
        var what = new Argument<string>("what") { Description = "What to export: defect-rates (quality signals) or alerts (alert history)" };
        what.AcceptOnlyFromAmong("defect-rates", "alerts");
        var format = new Option<string>("--format") { Description = "File format", Required = true };
        format.AcceptOnlyFromAmong("csv", "json", "parquet");
        var outPath = new Option<string>("--out") { Description = "The file to write", HelpName = "FILE", Required = true };
        var url = new Option<string>("--url") { Description = "The running service's HTTP address", HelpName = "URL", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "A key with the read scope [default: $TELEMETRY_API_KEY, then the one the service generated in data/api-key]",
            HelpName = "KEY",
        };
        var filters = new[] { ("--model", "model", "Only this product model"), ("--batch", "batch", "Only this production batch"),
            ("--failure-mode", "failure_mode", "Only this failure mode"), ("--from", "from", "From this time (ISO 8601)"), ("--to", "to", "Up to this time (ISO 8601)") }
            .Select(f => (Option: new Option<string?>(f.Item1) { Description = f.Item3, HelpName = f.Item2.ToUpperInvariant() }, Parameter: f.Item2))
            .ToList();
        var command = new Command("export", "Writes an export of the running service (GET /api/quality/defect-rates or /api/alerts/export) to a file, with progress on standard error")
        {
            what, format, outPath, url, apiKey,
        };
        foreach (var (option, _) in filters)
        {
            command.Options.Add(option);
        }

        VerbRunner.RejectOptionLikeValues(what, command);
        command.SetAction((parse, cancellationToken) => ExportAsync(
            new ExportRequest(
                parse.GetRequiredValue(what),
                parse.GetRequiredValue(format),
                parse.GetRequiredValue(outPath),
                parse.GetRequiredValue(url).TrimEnd('/'),
                parse.GetValue(apiKey),
                [.. filters.Where(f => parse.GetValue(f.Option) is not null).Select(f => (f.Parameter, parse.GetValue(f.Option)!))]),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    private static async Task<int> ExportAsync(ExportRequest export, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var (what, format, outPath, url, key, filters) = export;
        key ??= Environment.GetEnvironmentVariable("TELEMETRY_API_KEY")
            ?? (File.Exists(Path.Combine("data", "api-key")) ? (await File.ReadAllTextAsync(Path.Combine("data", "api-key"), cancellationToken)).Trim() : null);
        var query = $"format={Uri.EscapeDataString(format)}";
        foreach (var (parameter, value) in filters)
        {
            query += $"&{parameter}={Uri.EscapeDataString(value)}";
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
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                await error.WriteLineAsync($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
                if (response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
                {
                    await error.WriteLineAsync("exports need a key with the read scope: --api-key KEY or $TELEMETRY_API_KEY");
                }

                return 1;
            }

            await using var source = await response.Content.ReadAsStreamAsync(cancellationToken);
            await using var target = File.Create(outPath);
            var buffer = new byte[1 << 16];
            long total = 0;
            var lastReport = TimeSpan.Zero;
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
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

    private sealed record ExportRequest(string What, string Format, string OutPath, string Url, string? Key, IReadOnlyList<(string Parameter, string Value)> Filters);
}
