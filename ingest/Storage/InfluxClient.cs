using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Telemetry.Ingest.Storage;

/// <summary>How InfluxDB answered one write request.</summary>
internal enum WriteOutcome
{
    Written,

    /// <summary>Network error, timeout, 429 or 5xx: the same request may succeed later.</summary>
    Transient,

    /// <summary>400: some line is bad (the rest may or may not have been stored).</summary>
    BadRequest,

    /// <summary>413: the body is too large.</summary>
    TooLarge,

    /// <summary>401, 403, 404 and the like: retrying will not help until someone fixes the configuration.</summary>
    Refused,
}

internal readonly record struct WriteResponse(WriteOutcome Outcome, string Message, TimeSpan? RetryAfter);

/// <summary>
/// One gzip-compressed line-protocol write to InfluxDB, over the v1 or v2 API, with the answer classified.
/// Writing is idempotent: the same point (series and timestamp) written twice is stored once.
/// </summary>
internal sealed class InfluxClient(HttpClient http, InfluxOptions options, TimeProvider time)
{
    private readonly Uri _writeUri = BuildWriteUri(options);

    public async Task<WriteResponse> WriteAsync(ReadOnlyMemory<byte> lines, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _writeUri) { Content = Gzip(lines) };
        Authorize(request);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            using var response = await http.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                return new WriteResponse(WriteOutcome.Written, string.Empty, null);
            }

            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            var message = $"{(int)response.StatusCode} {body.Trim()}";
            return response.StatusCode switch
            {
                HttpStatusCode.BadRequest => new(WriteOutcome.BadRequest, message, null),
                HttpStatusCode.RequestEntityTooLarge => new(WriteOutcome.TooLarge, message, null),
                HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError
                    => new(WriteOutcome.Transient, message, RetryAfter(response)),
                HttpStatusCode.RequestTimeout => new(WriteOutcome.Transient, message, RetryAfter(response)),
                _ => new(WriteOutcome.Refused, message, null),
            };
        }
        catch (HttpRequestException e)
        {
            return new WriteResponse(WriteOutcome.Transient, e.Message, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WriteResponse(WriteOutcome.Transient, $"no answer within {options.RequestTimeout.TotalSeconds:0.#} s", null);
        }
    }

    /// <summary>Creates the v1 database when asked to (an idempotent statement in InfluxDB 1.x).</summary>
    public async Task<bool> EnsureDatabaseAsync(CancellationToken cancellationToken)
    {
        if (options.ApiVersion != InfluxApiVersion.V1 || !options.CreateDatabase)
        {
            return true;
        }

        var query = $"CREATE DATABASE \"{options.Database.Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(options.Url), "query"))
        {
            Content = new FormUrlEncodedContent([new("q", query)]),
        };
        Authorize(request);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private void Authorize(HttpRequestMessage request)
    {
        if (options.ApiVersion == InfluxApiVersion.V2 && options.Token.Length > 0)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Token", options.Token);
        }
        else if (options.ApiVersion == InfluxApiVersion.V1 && options.Username.Length > 0)
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        return header.Delta ?? (header.Date is { } at ? at - time.GetUtcNow() : null);
    }

    private static ByteArrayContent Gzip(ReadOnlyMemory<byte> lines)
    {
        using var compressed = new MemoryStream(Math.Max(256, lines.Length / 4));
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(lines.Span);
        }

        var content = new ByteArrayContent(compressed.GetBuffer(), 0, (int)compressed.Length);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }

    private static Uri BuildWriteUri(InfluxOptions options)
    {
        var root = new Uri(options.Url.EndsWith('/') ? options.Url : options.Url + "/");
        var query = options.ApiVersion == InfluxApiVersion.V2
            ? $"api/v2/write?org={Uri.EscapeDataString(options.Org)}&bucket={Uri.EscapeDataString(options.Bucket)}&precision=ms"
            : $"write?db={Uri.EscapeDataString(options.Database)}&precision=ms"
              + (options.RetentionPolicy.Length > 0 ? $"&rp={Uri.EscapeDataString(options.RetentionPolicy)}" : string.Empty);
        return new Uri(root, query);
    }
}
