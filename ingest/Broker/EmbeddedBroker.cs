using System.Net;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Telemetry.Ingest.Broker;

/// <summary>
/// The MQTTnet broker that runs inside the service when <c>Broker:Mode</c> is Embedded, so that one command
/// gives a working system. Sessions are persistent (the subscriber's queue survives its reconnects) and the
/// listener binds to loopback unless configured otherwise.
/// </summary>
internal sealed partial class EmbeddedBroker(
    IOptions<BrokerOptions> options,
    IOptions<Simulation.SimulationOptions> simulation,
    BrokerSecrets secrets,
    ILogger<EmbeddedBroker> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>Messages queued for one slow subscriber before the broker drops new ones. Devices resend
    /// what is not acked, so a drop delays data rather than losing it.</summary>
    private const int MaxPendingPerClient = 100_000;

    private const string RoleKey = "telemetry.role";
    private const string DeviceKey = "telemetry.device";

    private MqttServer? _server;
    private ClientIdAssigningAdapter? _adapter;
    private PacketSizeGuard? _guard;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.Mode != BrokerMode.Embedded)
        {
            return;
        }

        var bind = IPAddress.Parse(settings.BindAddress);
        var guarded = settings.Guard ?? !IPAddress.IsLoopback(bind);
        var brokerPort = guarded ? FreeLoopbackPort() : settings.Port;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(guarded ? IPAddress.Loopback : bind)
            .WithDefaultEndpointPort(brokerPort)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(MaxPendingPerClient)
            .WithPendingMessagesOverflowStrategy(MqttPendingMessagesOverflowStrategy.DropNewMessage)
            .Build();

        _adapter = new ClientIdAssigningAdapter();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, [_adapter]);
        _server.ValidatingConnectionAsync += e =>
        {
            Authenticate(e, settings);
            return Task.CompletedTask;
        };
        _server.InterceptingPublishAsync += e =>
        {
            var (role, device) = Identity(e.SessionItems);
            if (!BrokerAccess.CanPublish(role, device, e.ApplicationMessage.Topic))
            {
                // MQTT 5 clients get 0x87 in their PUBACK; the message reaches no subscriber and no pipeline.
                e.ProcessPublish = false;
                e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
                e.Response.ReasonString = $"{e.ClientId} may publish only under devices/{device ?? e.ClientId}/";
                LogRefusedPublish(logger, e.ClientId, e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        _server.InterceptingSubscriptionAsync += e =>
        {
            var (role, device) = Identity(e.SessionItems);
            if (!BrokerAccess.CanSubscribe(role, device, e.TopicFilter.Topic))
            {
                e.ProcessSubscription = false;
                e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
                LogRefusedSubscription(logger, e.ClientId, e.TopicFilter.Topic);
            }

            return Task.CompletedTask;
        };

        await _server.StartAsync();
        if (guarded)
        {
            // Clients reach MQTTnet only through the guard, which checks every packet's announced size first.
            _guard = new PacketSizeGuard(new IPEndPoint(bind, settings.Port), brokerPort, settings.MaxConnectPacketSize, settings.MaxPacketSize, logger);
            _guard.Start();
        }

        LogStarted(logger, settings.BindAddress, settings.Port, settings.AllowAnonymous ? "full access" : AnonymousConsumers(settings) ? "read alerts/# and quality/# only" : "refused");
    }

    /// <summary>
    /// Decides who a connecting client is: the service, a consumer account, a device presenting its token
    /// (username and client id are its device id), or, only if allowed, an anonymous client.
    /// </summary>
    private void Authenticate(ValidatingConnectionEventArgs e, BrokerOptions settings)
    {
        var user = e.UserName;
        ClientRole? role = null;
        if (string.IsNullOrEmpty(user))
        {
            role = settings.AllowAnonymous ? ClientRole.Anonymous : AnonymousConsumers(settings) ? ClientRole.Consumer : null;
        }
        else if (user == secrets.ServiceUsername)
        {
            role = Same(e.Password, secrets.ServicePassword) ? ClientRole.Service : null;
        }
        else if (settings.Accounts.Find(a => a.Username == user) is { } account)
        {
            role = Same(e.Password, account.Password) ? ClientRole.Consumer : null;
        }
        else if (Uplink.UplinkIds.IsDeviceId(user) && DeviceCredentials.Verify(user, e.Password, secrets.DeviceSecret))
        {
            // The client id is the device id. A second connection of the device (a bench tool watching its
            // acks, say) may use an id outside the device-id syntax, such as "{id}.bench", or let the broker
            // assign one. Another device's id could take over that device's session, so it is refused.
            if (Uplink.UplinkIds.IsDeviceId(e.ClientId) && e.ClientId != user)
            {
                e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
                e.ReasonString = "a device connects with its device id as client id and username";
                return;
            }

            role = ClientRole.Device;
        }

        if (role is null)
        {
            e.ReasonCode = string.IsNullOrEmpty(user) ? MqttConnectReasonCode.NotAuthorized : MqttConnectReasonCode.BadUserNameOrPassword;
            LogRefusedConnection(logger, e.ClientId, user ?? string.Empty);
            return;
        }

        e.SessionItems[RoleKey] = role.Value;
        e.SessionItems[DeviceKey] = role == ClientRole.Device ? user : null;
        if (string.IsNullOrEmpty(e.ClientId))
        {
            // MQTT 5 lets a client leave its id empty for the broker to assign; MQTTnet refuses that
            // unless the id is assigned here. MQTT 3.1.1 clients get theirs in ClientIdAssigningAdapter.
            e.AssignedClientIdentifier = ClientIdAssigningAdapter.NewClientId();
        }

        e.ReasonCode = MqttConnectReasonCode.Success;
    }

    private bool AnonymousConsumers(BrokerOptions settings) =>
        settings.AnonymousConsumers ?? (simulation.Value.Devices > 0 && IPAddress.IsLoopback(IPAddress.Parse(settings.BindAddress)));

    private static int FreeLoopbackPort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Connections the guard closed for announcing too large a packet (null without a guard).</summary>
    public long? GuardRefusals => _guard?.Refused;

    private static (ClientRole Role, string? Device) Identity(System.Collections.IDictionary items) =>
        items[RoleKey] is ClientRole role ? (role, items[DeviceKey] as string) : (ClientRole.Device, null);

    private static bool Same(string? presented, string expected) =>
        presented is not null && expected.Length > 0 && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(presented), System.Text.Encoding.UTF8.GetBytes(expected));

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_guard is not null)
        {
            await _guard.DisposeAsync();
            _guard = null;
        }

        if (_server is not null)
        {
            await _server.StopAsync();
        }
    }

    public ValueTask DisposeAsync()
    {
        _server?.Dispose();
        _adapter?.Dispose();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused connection of client {ClientId} (user '{User}'): bad credentials")]
    private static partial void LogRefusedConnection(ILogger logger, string clientId, string user);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused publish of {ClientId} to {Topic}: outside its own topics")]
    private static partial void LogRefusedPublish(ILogger logger, string clientId, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused subscription of {ClientId} to {Filter}")]
    private static partial void LogRefusedSubscription(ILogger logger, string clientId, string filter);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Address}:{Port}; clients without credentials: {Anonymous}")]
    private static partial void LogStarted(ILogger logger, string address, int port, string anonymous);
}
