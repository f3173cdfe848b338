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
    BrokerCounters counters,
    ILogger<EmbeddedBroker> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>Messages queued for one slow subscriber before the broker drops new ones. Devices resend
    /// what is not acked, so a drop delays data rather than losing it. The service's session never gets near it:
    /// <see cref="ServiceWindow"/> holds devices back first (at most 65535 places), and a drop there is counted.</summary>
    private const int MaxPendingPerClient = 100_000;

    private const string IdentityKey = "telemetry.identity";

    /// <summary>How long a client may take to send its CONNECT (and the broker to send a packet). MQTTnet's
    /// default of 100 s lets idle sockets pile up before anyone has authenticated.</summary>
    private static readonly TimeSpan CommunicationTimeout = TimeSpan.FromSeconds(10);

    private MqttServer? _server;
    private ClientIdAssigningAdapter? _adapter;
    private PacketSizeGuard? _guard;
    private ServiceWindow? _window;

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
        var listen = guarded ? IPAddress.Loopback : bind;
        // MQTTnet opens an IPv4 and an IPv6 listener; the one of the other family would listen on every
        // interface (IPv6Any by default), off loopback and around the guard. IPAddress.None turns it off.
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(listen.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? listen : IPAddress.None)
            .WithDefaultEndpointBoundIPV6Address(listen.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? listen : IPAddress.None)
            .WithDefaultEndpointPort(brokerPort)
            .WithDefaultCommunicationTimeout(CommunicationTimeout)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(MaxPendingPerClient)
            .WithPendingMessagesOverflowStrategy(MqttPendingMessagesOverflowStrategy.DropNewMessage)
            .Build();

        _adapter = new ClientIdAssigningAdapter();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, [_adapter]);
        _window = new ServiceWindow(settings.EffectiveServiceWindow, settings.ClientIdPrefix, counters, TimeProvider.System);
        _window.Attach(_server);
        counters.Observe(_window);
        _server.ValidatingConnectionAsync += e =>
        {
            Validate(e, settings);
            return Task.CompletedTask;
        };
        _server.ClientConnectedAsync += e =>
        {
            // A resumed session keeps the items of the connection that created it, so the identity is set
            // again from this CONNECT's own credentials before any of its packets is processed (MQTTnet raises
            // this event before it reads the next packet). Nothing a session carries decides who a client is.
            e.SessionItems[IdentityKey] = Authenticate(e.UserName, e.Password, settings) ?? ClientIdentity.Nobody;
            return Task.CompletedTask;
        };
        _server.InterceptingPublishAsync += e => InterceptPublishAsync(e).AsTask();
        _server.InterceptingSubscriptionAsync += e =>
        {
            if (!BrokerAccess.CanSubscribe(Identity(e.SessionItems), e.TopicFilter.Topic))
            {
                e.ProcessSubscription = false;
                e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
                counters.SubscriptionRefused();
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
    /// Applies the access rules to a PUBLISH, then, for one bound for the service, waits for a place in the
    /// window. MQTTnet awaits this before it routes the message or reads the connection's next packet.
    /// </summary>
    private ValueTask InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var who = Identity(e.SessionItems);
        var decision = BrokerAccess.CanPublish(who, e.ApplicationMessage.Topic, e.ApplicationMessage.Retain);
        if (decision == PublishDecision.Allowed && e.ApplicationMessage.Retain && who.Role == ClientRole.Device
            && e.ApplicationMessage.Payload.Length > Uplink.TelemetryDecoder.MaxPayloadBytes)
        {
            // The broker would keep it for good, though the service can never take it; unretained, an
            // oversized payload still reaches the service, which answers payload_too_large.
            decision = PublishDecision.RetainedTooLarge;
        }

        if (decision != PublishDecision.Allowed)
        {
            // MQTT 5 clients get 0x87 in their PUBACK; the message reaches no subscriber, no retained store
            // and no pipeline.
            e.ProcessPublish = false;
            e.Response.ReasonCode = decision switch
            {
                PublishDecision.WildcardInTopic => MqttPubAckReasonCode.TopicNameInvalid,
                PublishDecision.RetainedTooLarge => MqttPubAckReasonCode.QuotaExceeded,
                _ => MqttPubAckReasonCode.NotAuthorized,
            };
            e.Response.ReasonString = decision switch
            {
                PublishDecision.RetainedOutsideBirth => "only a birth may be retained",
                PublishDecision.RetainedTooLarge => "a retained birth may be at most 64 KiB",
                PublishDecision.WildcardInTopic => "a topic name must not contain + or #",
                _ => "a device may publish only devices/{its id}/birth, devices/{its id}/telemetry and devices/{its id}/telemetry/cbor",
            };
            // A wildcard in a topic name is a protocol violation: the connection is closed, as MQTT requires.
            e.CloseConnection = decision == PublishDecision.WildcardInTopic;
            counters.PublishRefused(decision switch
            {
                PublishDecision.RetainedOutsideBirth => BrokerCounters.RetainedOutsideBirth,
                PublishDecision.RetainedTooLarge => BrokerCounters.RetainedTooLarge,
                PublishDecision.WildcardInTopic => BrokerCounters.WildcardInTopic,
                _ => BrokerCounters.OutsideOwnTopics,
            });
            LogRefusedPublish(logger, e.ClientId, e.ApplicationMessage.Topic, e.Response.ReasonString);
            return ValueTask.CompletedTask;
        }

        return e.ProcessPublish ? WaitForWindowAsync(e, who) : ValueTask.CompletedTask;
    }

    private async ValueTask WaitForWindowAsync(InterceptingPublishEventArgs e, ClientIdentity who)
    {
        // The token is the publishing connection's: it ends the wait when the device disconnects or the broker stops.
        if (!await _window!.EnterAsync(who, e.ApplicationMessage, e.SessionItems, e.CancellationToken).ConfigureAwait(false))
        {
            // The device is gone and gets no PUBACK: it resends the message after it reconnects.
            e.ProcessPublish = false;
        }
    }

    /// <summary>
    /// Admits a CONNECT whose credentials name an identity and whose client id belongs to that identity (or was
    /// left to the broker to assign). Anything else is refused and counted.
    /// </summary>
    private void Validate(ValidatingConnectionEventArgs e, BrokerOptions settings)
    {
        var user = e.UserName;
        // Taken first, refused or not: an id the adapter assigned is remembered only until its CONNECT is judged.
        var assigned = string.IsNullOrEmpty(e.ClientId) || _adapter!.TakeAssigned(e.ClientId);
        if (Authenticate(user, e.Password, settings) is not { } identity)
        {
            var anonymous = string.IsNullOrEmpty(user);
            e.ReasonCode = anonymous ? MqttConnectReasonCode.NotAuthorized : MqttConnectReasonCode.BadUserNameOrPassword;
            counters.ConnectionRefused(anonymous ? BrokerCounters.NoCredentials : BrokerCounters.BadCredentials);
            LogRefusedConnection(logger, e.ClientId, user ?? string.Empty);
            return;
        }

        if (!assigned && !BrokerAccess.MayUseClientId(identity, e.ClientId, settings.ClientIdPrefix))
        {
            // Another identity's client id would resume that identity's session: its subscriptions and queue.
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            e.ReasonString = identity.Role switch
            {
                ClientRole.Device or ClientRole.Consumer when identity.Name is { } name => $"client id must be '{name}', '{name}.<suffix>' or empty",
                ClientRole.Consumer => "clients without credentials must leave the client id empty",
                _ => $"the service's client ids start with '{settings.ClientIdPrefix}-'",
            };
            counters.ConnectionRefused(BrokerCounters.ClientIdNotOwned);
            LogForeignClientId(logger, e.ClientId, user ?? string.Empty);
            return;
        }

        e.SessionItems[IdentityKey] = identity;
        if (string.IsNullOrEmpty(e.ClientId))
        {
            // MQTT 5 lets a client leave its id empty for the broker to assign; MQTTnet refuses that
            // unless the id is assigned here. MQTT 3.1.1 clients get theirs in ClientIdAssigningAdapter.
            e.AssignedClientIdentifier = ClientIdAssigningAdapter.NewClientId();
        }

        e.ReasonCode = MqttConnectReasonCode.Success;
    }

    /// <summary>
    /// Who presents these credentials: the service, a consumer account, a device with its token, or, only if
    /// allowed, a client without credentials. Null when the credentials name nobody.
    /// </summary>
    private ClientIdentity? Authenticate(string? user, string? password, BrokerOptions settings)
    {
        if (string.IsNullOrEmpty(user))
        {
            return settings.AllowAnonymous ? ClientIdentity.Anonymous : AnonymousConsumers(settings) ? ClientIdentity.Consumer(null) : null;
        }

        if (user == secrets.ServiceUsername)
        {
            return Same(password, secrets.ServicePassword) ? ClientIdentity.Service : null;
        }

        if (settings.Accounts.Find(a => a.Username == user) is { } account)
        {
            return Same(password, account.Password) ? ClientIdentity.Consumer(user) : null;
        }

        // A device id in the service's client-id namespace gets no credentials (see CredentialsCommand): on
        // Mosquitto its username would become one of the service's client ids.
        return Uplink.UplinkIds.IsDeviceId(user) && !BrokerAccess.IsServiceClientId(user, settings.ClientIdPrefix)
            && DeviceCredentials.Verify(user, password, secrets.DeviceSecret)
            ? ClientIdentity.Device(user)
            : null;
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

    /// <summary>The identity this connection's CONNECT established; a session without one may do nothing.</summary>
    private static ClientIdentity Identity(System.Collections.IDictionary items) =>
        items[IdentityKey] is ClientIdentity identity ? identity : ClientIdentity.Nobody;

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused connection of client {ClientId} (user '{User}'): the client id belongs to another identity")]
    private static partial void LogForeignClientId(ILogger logger, string clientId, string user);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused publish of {ClientId} to {Topic}: {Reason}")]
    private static partial void LogRefusedPublish(ILogger logger, string clientId, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused subscription of {ClientId} to {Filter}")]
    private static partial void LogRefusedSubscription(ILogger logger, string clientId, string filter);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Address}:{Port}; clients without credentials: {Anonymous}")]
    private static partial void LogStarted(ILogger logger, string address, int port, string anonymous);
}
