namespace ExplainCluster.Grains;

/// <summary>Wakes whoever waits for a job's next change (<see cref="Contracts.IJobGrain.WaitForChangeAsync"/>): a shard merged, a pass begun, the job ended.</summary>
public sealed class ChangeSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="Raise"/>, or after <paramref name="maxWait"/>.</summary>
    public Task WaitAsync(TimeSpan maxWait) => Task.WhenAny(_next.Task, Task.Delay(maxWait));

    public void Raise()
    {
        var next = _next;
        _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        next.SetResult();
    }
}
