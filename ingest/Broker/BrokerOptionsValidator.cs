using System.Net;
using Microsoft.Extensions.Options;

namespace Telemetry.Ingest.Broker;

/// <summary>Stops start-up with a message naming the key when a broker setting is unusable.</summary>
internal sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Mode))
        {
            failures.Add($"Broker:Mode must be Embedded or External (was {options.Mode}).");
        }

        if (options.Port is < 1 or > 65535)
        {
            failures.Add($"Broker:Port must be between 1 and 65535 (was {options.Port}).");
        }

        if (string.IsNullOrWhiteSpace(options.Host))
        {
            failures.Add("Broker:Host must name the broker's host.");
        }

        if (options.Mode == BrokerMode.Embedded && !IPAddress.TryParse(options.BindAddress, out _))
        {
            failures.Add($"Broker:BindAddress must be an IP address (was '{options.BindAddress}').");
        }

        if (options.SessionExpiry <= TimeSpan.Zero || options.SessionExpiry.TotalSeconds > uint.MaxValue)
        {
            failures.Add($"Broker:SessionExpiry must be positive (was {options.SessionExpiry}).");
        }

        if (options.ReconnectDelay <= TimeSpan.Zero)
        {
            failures.Add($"Broker:ReconnectDelay must be positive (was {options.ReconnectDelay}).");
        }

        foreach (var (key, path) in new[] { ("Broker:CaFile", options.CaFile), ("Broker:ClientCertificateFile", options.ClientCertificateFile), ("Broker:ClientKeyFile", options.ClientKeyFile) })
        {
            if (path.Length > 0 && !File.Exists(path))
            {
                failures.Add($"{key} names a file that does not exist: '{path}'.");
            }
        }

        if (options.MaxPacketSize is < 1024 or > 268_435_455 || options.MaxConnectPacketSize is < 64 or > 268_435_455)
        {
            failures.Add($"Broker:MaxPacketSize must be 1024..268435455 and Broker:MaxConnectPacketSize 64..268435455 (were {options.MaxPacketSize}, {options.MaxConnectPacketSize}).");
        }

        if (options.ClientKeyFile.Length > 0 && options.ClientCertificateFile.Length == 0)
        {
            failures.Add("Broker:ClientKeyFile needs Broker:ClientCertificateFile.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
