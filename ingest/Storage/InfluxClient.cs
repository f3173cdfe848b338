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

    /// <summary>400 (1.x) or 422 (2.x): some line is bad and will never be taken; the rest may or may not
    /// have been stored.</summary>
    BadRequest,

    /// <summary>413: the body is too large.</summary>
    TooLarge,

    /// <summary>404: the database (1.x) or bucket (2.x) does not exist; creating it may help.</summary>
    NotFound,

    /// <summary>401, 403 and other 4xx: retrying will not help until someone fixes the configuration, but
    /// nothing about the lines is wrong, so they are kept and retried with backoff.</summary>
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
        using var expiry = new CancellationTokenSource(options.RequestTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
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
                // 2.x says 422 where 1.x says 400 for a line it will never take (a field type conflict, a
                // point outside the retention period): both are the line's fault, not the server's.
                HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => new(WriteOutcome.BadRequest, message, null),
                HttpStatusCode.NotFound => new(WriteOutcome.NotFound, message, null),
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

    /// <summary>True when a missing database is ours to create: v1 with <c>Influx:CreateDatabase</c> on.</summary>
    public bool CreatesDatabase => options.ApiVersion == InfluxApiVersion.V1 && options.CreateDatabase;

    /// <summary>
    /// Creates the v1 database (an idempotent statement in InfluxDB 1.x), within <c>Influx:RequestTimeout</c>.
    /// Never throws for the server's state: the answer says whether it worked and, if not, why.
    /// </summary>
    public async Task<WriteResponse> EnsureDatabaseAsync(CancellationToken cancellationToken)
    {
        if (!CreatesDatabase)
        {
            return new WriteResponse(WriteOutcome.Written, string.Empty, null);
        }

        var query = $"CREATE DATABASE \"{options.Database.Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(options.Url), "query"))
        {
            Content = new FormUrlEncodedContent([new("q", query)]),
        };
        Authorize(request);
        using var expiry = new CancellationTokenSource(options.RequestTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
        try
        {
            using var response = await http.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                return new WriteResponse(WriteOutcome.Written, string.Empty, null);
            }

            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            var outcome = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? WriteOutcome.Refused : WriteOutcome.Transient;
            return new WriteResponse(outcome, $"{(int)response.StatusCode} {body.Trim()}", null);
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
