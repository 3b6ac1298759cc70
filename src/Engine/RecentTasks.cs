namespace ExplainCluster.Engine;

/// <summary>
/// The results of the last <c>capacity</c> keys asked for, each computed once however many callers ask at the same time. A
/// computation runs without any caller's cancellation, as others may wait for it; each caller waits with its own. One that
/// fails is not kept: the next caller tries again, and this one reports it.
/// </summary>
public sealed class RecentTasks<TKey, TValue>(int capacity)
    where TKey : IEquatable<TKey>
{
    private readonly object _lock = new();

    /// <summary>The keys kept, the one asked for last first.</summary>
    private readonly LinkedList<(TKey Key, Task<TValue> Value)> _recent = new();

    private int _computed;

    /// <summary>How many values were computed and kept (each once, until it was dropped).</summary>
    public int Computed => Volatile.Read(ref _computed);

    /// <summary><paramref name="key"/>'s value, computed by <paramref name="compute"/> and kept unless it is kept already.</summary>
    public async Task<TValue> GetAsync(TKey key, Func<Task<TValue>> compute, CancellationToken ct) =>
        await AwaitAsync(Find(key, compute) ?? compute(), ct);

    /// <summary><paramref name="key"/>'s value if it is kept (or being computed), without computing it; default otherwise.</summary>
    public async Task<TValue?> FindAsync(TKey key, CancellationToken ct) =>
        Find(key, null) is { } value ? await AwaitAsync(value, ct) : default;

    /// <summary>The key's value kept (made the one asked for last), else the one <paramref name="compute"/> starts and keeps, else null.</summary>
    private Task<TValue>? Find(TKey key, Func<Task<TValue>>? compute)
    {
        lock (_lock)
        {
            var node = _recent.First;
            while (node is not null && !node.Value.Key.Equals(key)) node = node.Next;
            if (node is not null) _recent.Remove(node);
            else if (compute is not null && capacity > 0)
            {
                Interlocked.Increment(ref _computed);
                node = new LinkedListNode<(TKey, Task<TValue>)>((key, Task.Run(compute, CancellationToken.None)));
            }
            if (node is null) return null;
            _recent.AddFirst(node);
            while (_recent.Count > capacity) _recent.RemoveLast();
            return node.Value.Value;
        }
    }

    /// <summary>The value, awaited with this caller's cancellation; one that failed is dropped, so that the next caller tries again.</summary>
    private async Task<TValue> AwaitAsync(Task<TValue> value, CancellationToken ct)
    {
        try { return await value.WaitAsync(ct); }
        catch when (value.IsFaulted || value.IsCanceled)
        {
            lock (_lock)
            {
                for (var node = _recent.First; node is not null; node = node.Next)
                    if (node.Value.Value == value) { _recent.Remove(node); break; }
            }
            throw;
        }
    }
}
