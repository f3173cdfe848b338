using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Telemetry.Grains.Devices;
using Xunit;

namespace Telemetry.UnitTests;

/// <summary>
/// The pending-outbox grain is one for the whole service: devices that register together share its writes, no
/// write overlaps another, and none answers a caller before a write that began after its change has stored it.
/// </summary>
public sealed class PendingOutboxGrainTests
{
    private readonly ScriptedState _state = new();

    [Fact]
    public async Task Registrations_ArrivingDuringAWrite_ShareTheNextWrite_AndAreAnsweredOnlyWhenItHasStoredThem()
    {
        var grain = new PendingOutboxGrain(_state, NullLogger<PendingOutboxGrain>.Instance);

        var first = grain.AddAsync(Owner(0));
        var later = Enumerable.Range(1, 50).Select(i => grain.AddAsync(Owner(i))).ToArray();

        Assert.Equal([1], _state.Written.Select(w => w.Count));
        _state.Complete(0);
        await first;
        Assert.All(later, task => Assert.False(task.IsCompleted));
        Assert.Equal([1, 51], _state.Written.Select(w => w.Count));
        _state.Complete(1);
        await Task.WhenAll(later);
        Assert.Equal(2, _state.Written.Count);
    }

    [Fact]
    public async Task AFailedWrite_FailsItsCallers_AndTheSameRegistrationAgainIsWrittenAgain()
    {
        var grain = new PendingOutboxGrain(_state, NullLogger<PendingOutboxGrain>.Instance);

        var add = grain.AddAsync(Owner(7));
        _state.Fail(0);
        await Assert.ThrowsAsync<IOException>(() => add);

        // Already in the set in memory, but not stored: the retry must write, not answer at once.
        var again = grain.AddAsync(Owner(7));
        Assert.False(again.IsCompleted);
        _state.Complete(1);
        await again;
        Assert.Equal([1, 1], _state.Written.Select(w => w.Count));

        // Stored now: the same registration once more costs nothing.
        await grain.AddAsync(Owner(7));
        Assert.Equal(2, _state.Written.Count);
    }

    [Fact]
    public async Task TheSameRegistrationWhileItsWriteIsUnderWay_WaitsForAWriteOfItsOwn_AndSurvivesThatWriteFailing()
    {
        // A device grain whose first call timed out (a slow store) registers again from a new activation.
        var grain = new PendingOutboxGrain(_state, NullLogger<PendingOutboxGrain>.Instance);
        var first = grain.AddAsync(Owner(3));

        var again = grain.AddAsync(Owner(3));
        Assert.False(again.IsCompleted);
        _state.Fail(0);
        await Assert.ThrowsAsync<IOException>(() => first);

        Assert.False(again.IsCompleted);
        _state.Complete(1);
        await again;
        Assert.Equal([1, 1], _state.Written.Select(w => w.Count));
    }

    [Fact]
    public async Task ARemovalDuringAWrite_IsStoredByTheNextOne()
    {
        var grain = new PendingOutboxGrain(_state, NullLogger<PendingOutboxGrain>.Instance);
        var add = grain.AddAsync(Owner(1));

        var remove = grain.RemoveAsync(Owner(1));
        _state.Complete(0);
        await add;
        _state.Complete(1);
        await remove;

        Assert.Equal([1, 0], _state.Written.Select(w => w.Count));
    }

    private static GrainId Owner(int i) => GrainId.Create("device", $"d{i}");

    /// <summary>Grain state whose writes the test completes or fails one by one; it records the set each write stored.</summary>
    private sealed class ScriptedState : IPersistentState<PendingOutboxState>
    {
        private readonly List<TaskCompletionSource> _writes = [];

        public List<HashSet<GrainId>> Written { get; } = [];

        public PendingOutboxState State { get; set; } = new();

        public string? Etag => null;

        public bool RecordExists => Written.Count > 0;

        public Task ClearStateAsync() => throw new NotSupportedException();

        public Task ReadStateAsync() => Task.CompletedTask;

        public Task WriteStateAsync()
        {
            if (_writes.Count > 0 && !_writes[^1].Task.IsCompleted)
            {
                throw new InvalidOperationException("a write began while another was under way");
            }

            Written.Add([.. State.Owners]);
            _writes.Add(new TaskCompletionSource());
            return _writes[^1].Task;
        }

        public void Complete(int write) => _writes[write].SetResult();

        public void Fail(int write) => _writes[write].SetException(new IOException("disk gone"));
    }
}
