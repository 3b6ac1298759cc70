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
    private readonly Thread[] _threads;
    private readonly ConcurrentDictionary<string, Lazy<Task<ExplainModel>>> _models = new(StringComparer.Ordinal);
    private readonly ModelHostOptions _options;
    private readonly BlobLocator _locator;

    public ModelHost(ModelHostOptions options, BlobLocator locator)
    {
        if (options.Validate() is { } problem) throw new ExplainException(problem);
        _options = options;
        _locator = locator;
        if (options.Device == "cuda" && !torch.cuda.is_available())
            throw new ExplainException($"{ModelHostOptions.Section}:Device is \"cuda\" but CUDA is not available in this libtorch build or machine");
        Device = torch.device(options.Device);
        _threads = [.. Enumerable.Range(0, options.EffectiveWorkerThreads).Select(i => new Thread(Loop) { IsBackground = true, Name = $"model-host-{i}" })];
        foreach (var t in _threads) t.Start();
    }

    public torch.Device Device { get; }

    public int WorkerThreads => _threads.Length;

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

    public void Dispose()
    {
        _work.CompleteAdding();
        foreach (var t in _threads) t.Join();
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

    private void Loop()
    {
        // libtorch's intra-op setting is per thread (OpenMP): set it on each thread that runs tensor work.
        if (_options.EffectiveIntraOpThreads > 0) torch.set_num_threads(_options.EffectiveIntraOpThreads);
        foreach (var work in _work.GetConsumingEnumerable()) work();
    }
}
