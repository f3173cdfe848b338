using Orleans.Runtime;

namespace Telemetry.Grains.Storage;

/// <summary>
/// Saves a grain's state behind its changes: at most once per interval (a grain timer, started by the first
/// change) and when the grain deactivates, so a grain that changes often does not write on every change. A
/// crash loses at most one interval; use it only for state that can be rebuilt or may lose that much.
/// </summary>
internal sealed class WriteBehind<T>(Grain grain, IPersistentState<T> state, TimeSpan interval)
{
    private IGrainTimer? _timer;
    private bool _dirty;

    public void Changed()
    {
        _dirty = true;
        _timer ??= grain.RegisterGrainTimer(SaveAsync, new GrainTimerCreationOptions(interval, interval));
    }

    /// <summary>Writes now whatever has changed (the caller's own change included).</summary>
    public async Task SaveNowAsync()
    {
        _dirty = false;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            _dirty = true;
            throw;
        }
    }

    /// <summary>Writes if anything changed since the last write. Call it from <c>OnDeactivateAsync</c>.</summary>
    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        if (_dirty)
        {
            // Cleared first: a change made while the write is out (an interleaved turn) marks it dirty again.
            _dirty = false;
            try
            {
                await state.WriteStateAsync(cancellationToken);
            }
            catch
            {
                _dirty = true;
                throw;
            }
        }
    }
}
