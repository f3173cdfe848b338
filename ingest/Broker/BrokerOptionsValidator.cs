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

        if (options.ResponseTimeout < TimeSpan.FromMilliseconds(100) || options.ResponseTimeout > TimeSpan.FromMinutes(5))
        {
            failures.Add($"Broker:ResponseTimeout must be between 100 ms and 5 minutes (was {options.ResponseTimeout}).");
        }

        if (options.SocketBufferBytes is < 64 * 1024 or > 64 * 1024 * 1024)
        {
            failures.Add($"Broker:SocketBufferBytes must be between 65536 and 67108864 (was {options.SocketBufferBytes}).");
        }

        if (options.ProbeInterval < TimeSpan.Zero || options.ProbeInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"Broker:ProbeInterval must be zero (off) or positive and at most 1 hour (was {options.ProbeInterval}).");
        }

        if (options.ProbeInterval > TimeSpan.Zero && (options.StallAfter < options.ProbeInterval || options.StallAfter > TimeSpan.FromHours(1)))
        {
            failures.Add($"Broker:StallAfter must be at least Broker:ProbeInterval and at most 1 hour (was {options.StallAfter} with a probe every {options.ProbeInterval}).");
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

        if (options.ServiceWindow is < 1 or > 65_535)
        {
            // More unacknowledged messages than packet ids and MQTTnet reuses the id of one still in flight.
            failures.Add($"Broker:ServiceWindow must be 1..65535 (was {options.ServiceWindow}).");
        }

        if (options.ReceiveMaximum == 0)
        {
            failures.Add("Broker:ReceiveMaximum must be 1..65535 (was 0).");
        }

        if (options.ReceiveWindowBytes is < 64 * 1024 or > 1024L * 1024 * 1024)
        {
            failures.Add($"Broker:ReceiveWindowBytes must be 65536..1073741824 (was {options.ReceiveWindowBytes}).");
        }

        if (options.ClientKeyFile.Length > 0 && options.ClientCertificateFile.Length == 0)
        {
            failures.Add("Broker:ClientKeyFile needs Broker:ClientCertificateFile.");
        }

        if (!Uplink.UplinkIds.IsDeviceId(options.ClientIdPrefix))
        {
            failures.Add($"Broker:ClientIdPrefix must match ^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$ (was '{options.ClientIdPrefix}').");
        }

        if (options.SharedGroup.Length > 0 && !Uplink.UplinkIds.IsDeviceId(options.SharedGroup))
        {
            // A topic level of its own: no '/', '+' or '#'.
            failures.Add($"Broker:SharedGroup must be empty or match ^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$ (was '{options.SharedGroup}').");
        }

        if (options.SharedGroup.Length > 0 && options.Mode == BrokerMode.Embedded)
        {
            failures.Add("Broker:SharedGroup needs Broker:Mode External: the embedded broker serves one instance, and shares its messages with no other.");
        }

        // An account's name owns the client ids '{name}' and '{name}.*'. Names without dots, outside the service's
        // ids and distinct from each other keep every client id owned by one identity at most.
        for (var i = 0; i < options.Accounts.Count; i++)
        {
            var account = options.Accounts[i];
            if (!Uplink.UplinkIds.IsDeviceId(account.Username)
                || BrokerAccess.IsServiceClientId(account.Username, options.ClientIdPrefix)
                || account.Username == options.Username
                || account.Username == BrokerSecrets.DefaultServiceUsername)
            {
                failures.Add($"Broker:Accounts:{i}:Username must match ^[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}$, must not be the service's account and must not start with '{options.ClientIdPrefix}' (was '{account.Username}').");
            }
            else if (options.Accounts.FindIndex(a => a.Username == account.Username) != i)
            {
                failures.Add($"Broker:Accounts:{i}:Username '{account.Username}' is configured twice.");
            }

            if (string.IsNullOrEmpty(account.Password))
            {
                failures.Add($"Broker:Accounts:{i}:Password must not be empty.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
