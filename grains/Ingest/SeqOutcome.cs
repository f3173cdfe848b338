namespace Telemetry.Grains.Ingest;

/// <summary>What the dedupe state made of a message key.</summary>
public enum SeqOutcome
{
    /// <summary>New: apply the message.</summary>
    Recorded,

    /// <summary>Handled before: acknowledge again, apply nothing.</summary>
    Duplicate,

    /// <summary>Beyond too many gaps of its boot: not recorded, not applied, not acknowledged; the device keeps it
    /// and sends it again once it has filled the gaps it was told about.</summary>
    Refused,
}
