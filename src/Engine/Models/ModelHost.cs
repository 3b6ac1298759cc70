using System.Collections.Concurrent;
using System.Security.Cryptography;
using ExplainCluster.Engine.Storage;
using TorchSharp;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// A silo's models and the threads that run them. Each model is loaded once per process; all tensor
/// work runs on threads this host owns, never on the caller's (or Orleans') scheduler.
/// </summary>
public sealed class ModelHost : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Lock _lock = new();
    private readonly List<Worker> _workers = []; // the pool: abandoned threads leave it
    private int _started;
    private int _abandoned;
    private int _stuck; // abandoned threads that have not returned yet
    private bool _disposed;
    private bool _joined;
    private readonly ConcurrentDictionary<string, Lazy<Task<ExplainModel>>> _models = new(StringComparer.Ordinal);
    private readonly ModelHostOptions _options;
    private readonly BlobLocator _locator;

    public ModelHost(ModelHostOptions options, BlobLocator locator)
    {
        if (options.Validate() is { } problem) throw new ExplainException(problem);
        NativeHeap.Configure(); // before the first tensor
        _options = options;
        _locator = locator;
        if (options.Device == "cuda" && !torch.cuda.is_available())
            throw new ExplainException($"{ModelHostOptions.Section}:Device is \"cuda\" but CUDA is not available in this libtorch build or machine");
        Device = torch.device(options.Device);
        lock (_lock)
            for (var i = 0; i < options.EffectiveWorkerThreads; i++) StartWorker();
    }

    public torch.Device Device { get; }

    /// <summary>Threads taking work: always the configured count, however many were abandoned.</summary>
    public int WorkerThreads
    {
        get { lock (_lock) return _workers.Count; }
    }

    /// <summary>Threads given up on since start (<see cref="Abandon"/>), each replaced by a new one.</summary>
    public int AbandonedThreads => Volatile.Read(ref _abandoned);

    /// <summary>Abandoned threads still inside the work they were abandoned in.</summary>
    public int StuckThreads => Volatile.Read(ref _stuck);

    /// <summary>Shards this silo holds at once (<see cref="ModelHostOptions.ShardCapacity"/>).</summary>
    public int ShardCapacity => _options.ShardCapacity;

    /// <summary>Runs synchronous tensor work on a host thread.</summary>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    /// <summary>
    /// Gives up on <paramref name="thread"/>, one of this host's, stuck in work that may never return (inside
    /// native code, where it cannot be interrupted): a new thread takes its place in the pool at once, and the
    /// stuck one exits when its work returns instead of taking more. False if it is not one of the pool's threads.
    /// </summary>
    public bool Abandon(Thread thread)
    {
        lock (_lock)
        {
            var worker = _workers.Find(w => w.Thread == thread);
            if (worker is null || _disposed) return false;
            worker.Abandoned = true;
            _workers.Remove(worker);
            _abandoned++;
            _stuck++;
            StartWorker();
            return true;
        }
    }

    /// <summary>The model at <paramref name="location"/>, loaded on first use. A failed load is not cached.</summary>
    public async Task<ExplainModel> GetModelAsync(string location, CancellationToken ct = default)
    {
        var entry = _models.GetOrAdd(location, l => new Lazy<Task<ExplainModel>>(() => LoadAsync(l, ct)));
        try
        {
            return await entry.Value;
        }
        catch
        {
            _models.TryRemove(new KeyValuePair<string, Lazy<Task<ExplainModel>>>(location, entry));
            throw;
        }
    }

    /// <summary>
    /// Stops the pool once its queued work is done. The models and the queue are released then, or, while an
    /// abandoned thread may still be running one of the models, by the last such thread when it returns.
    /// </summary>
    public void Dispose()
    {
        Worker[] pool;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            pool = [.. _workers];
        }
        _work.CompleteAdding();
        foreach (var w in pool) w.Thread.Join();
        lock (_lock)
        {
            _joined = true;
            if (_stuck == 0) Release();
        }
    }

    private void Release()
    {
        foreach (var m in _models.Values.Where(l => l.IsValueCreated && l.Value.IsCompletedSuccessfully)) m.Value.Result.Dispose();
        _work.Dispose();
    }

    private async Task<ExplainModel> LoadAsync(string location, CancellationToken ct)
    {
        var blob = _locator.Resolve(location);
        bool exists;
        try { exists = await blob.ExistsAsync(ct); }
        catch (Exception e) when (e is not ExplainException) { throw new ExplainException($"model {location} cannot be read: {e.Message.Split('\n')[0]}", e); }
        if (!exists) throw new ExplainException($"model {location} does not exist");
        var path = blob is LocalBlob local ? local.Location : await DownloadAsync(blob, ct);
        return await RunAsync(() => ExplainModel.Load(path, Device, location, _options.MemoryFormat == ModelHostOptions.ChannelsLast));
    }

    private async Task<string> DownloadAsync(IBlob blob, CancellationToken ct)
    {
        Directory.CreateDirectory(_options.CacheDirectory);
        var name = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(blob.Location))) + ".pt";
        var path = Path.Combine(_options.CacheDirectory, name);
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        await using (var source = await blob.OpenReadAsync(ct))
        await using (var file = File.Create(temp))
            await source.CopyToAsync(file, ct);
        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>Adds a thread to the pool; called under the lock.</summary>
    private void StartWorker()
    {
        var worker = new Worker();
        worker.Thread = new Thread(() => Loop(worker)) { IsBackground = true, Name = $"model-host-{_started++}" };
        _workers.Add(worker);
        worker.Thread.Start();
    }

    private void Loop(Worker worker)
    {
        // libtorch's intra-op setting is per thread (OpenMP): set it on each thread that runs tensor work.
        if (_options.EffectiveIntraOpThreads > 0) torch.set_num_threads(_options.EffectiveIntraOpThreads);
        while (!worker.Abandoned && _work.TryTake(out var work, Timeout.Infinite)) work();
        if (!worker.Abandoned) return;
        lock (_lock)
        {
            _stuck--;
            if (_joined && _stuck == 0) Release();
        }
    }

    private sealed class Worker
    {
        private volatile bool _abandoned;

        public Thread Thread { get; set; } = null!;

        /// <summary>Set under the host's lock, read by the worker's own thread after each work item.</summary>
        public bool Abandoned
        {
            get => _abandoned;
            set => _abandoned = value;
        }
    }
}
