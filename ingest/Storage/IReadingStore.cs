namespace Telemetry.Ingest.Storage;

/// <summary>
/// The durable destination of accepted readings, in line protocol. <see cref="StoreAsync"/> completes only
/// when the lines are safe (in the database, the spill file or a day file), because device acks and broker
/// acknowledgements wait for it. The caller may reuse <c>lines</c> once the call has completed.
/// </summary>
internal interface IReadingStore
{
    /// <summary>True when the lines are durable; false when they could not be made so (the caller must not
    /// acknowledge them, so that they are sent again).</summary>
    ValueTask<bool> StoreAsync(ReadOnlyMemory<byte> lines, int lineCount, CancellationToken cancellationToken);
}
