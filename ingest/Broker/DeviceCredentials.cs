using System.Security.Cryptography;
using System.Text;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// Per-device MQTT credentials without a database: a device's password is its token,
/// <c>hex(HMAC-SHA256(key = Broker:DeviceSecret, message = UTF-8 device id))</c>, and its username and
/// client id are its device id. The factory that flashes the firmware and the service compute the same
/// token from the same secret.
/// </summary>
internal static class DeviceCredentials
{
    /// <summary>The device's token: 64 lowercase hex digits.</summary>
    public static string Token(string deviceId, string secret) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(deviceId)));

    /// <summary>Compares a presented password with the device's token in constant time.</summary>
    public static bool Verify(string deviceId, string? password, string secret) =>
        password is not null && CryptographicOperations.FixedTimeEquals(
            Encoding.UTF8.GetBytes(Token(deviceId, secret)), Encoding.UTF8.GetBytes(password));

    /// <summary>
    /// A Mosquitto 2.0 password-file line (<c>user:$7$iterations$salt$hash</c>, PBKDF2-SHA512, as
    /// <c>mosquitto_passwd</c> writes it), so that devices can be provisioned on Mosquitto with no other tool.
    /// </summary>
    public static string MosquittoPasswordLine(string username, string password, byte[]? salt = null)
    {
        const int Iterations = 101;
        salt ??= RandomNumberGenerator.GetBytes(12);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA512, 64);
        return $"{username}:$7${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }
}
