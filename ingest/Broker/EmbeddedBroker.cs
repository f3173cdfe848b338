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
internal sealed partial class EmbeddedBroker(IOptions<BrokerOptions> options, ILogger<EmbeddedBroker> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>Messages queued for one slow subscriber before the broker drops new ones. Devices resend
    /// what is not acked, so a drop delays data rather than losing it.</summary>
    private const int MaxPendingPerClient = 100_000;

    private MqttServer? _server;
    private ClientIdAssigningAdapter? _adapter;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.Mode != BrokerMode.Embedded)
        {
            return;
        }

        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Parse(settings.BindAddress))
            .WithDefaultEndpointPort(settings.Port)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(MaxPendingPerClient)
            .WithPendingMessagesOverflowStrategy(MqttPendingMessagesOverflowStrategy.DropNewMessage)
            .Build();

        _adapter = new ClientIdAssigningAdapter();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, [_adapter]);
        _server.ValidatingConnectionAsync += e =>
        {
            if (!settings.AllowAnonymous && string.IsNullOrEmpty(e.UserName))
            {
                e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
                return Task.CompletedTask;
            }

            if (string.IsNullOrEmpty(e.ClientId))
            {
                // MQTT 5 lets a client leave its id empty for the broker to assign; MQTTnet refuses that
                // unless the id is assigned here. MQTT 3.1.1 clients get theirs in ClientIdAssigningAdapter.
                e.AssignedClientIdentifier = ClientIdAssigningAdapter.NewClientId();
                e.ReasonCode = MqttConnectReasonCode.Success;
            }

            return Task.CompletedTask;
        };

        await _server.StartAsync();
        LogStarted(logger, settings.BindAddress, settings.Port, settings.AllowAnonymous);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Address}:{Port} (anonymous: {AllowAnonymous})")]
    private static partial void LogStarted(ILogger logger, string address, int port, bool allowAnonymous);
}
