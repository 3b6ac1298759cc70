using ExplainCluster.Engine;
using ExplainCluster.Grains.Passes;
using Orleans.Storage;

namespace ExplainCluster.Grains;

/// <summary>
/// A job's shard attempts (<see cref="ShardBook"/>) as they are persisted: apart from the job's own record, in blocks of
/// <see cref="BlockSize"/> shards, each block its own entry of the job storage (one Redis key on a cluster). A change to a
/// shard rewrites its block only, so what a shard's completion writes does not grow with the job's shard count, and the job's
/// record stays as small as its options. Blocks are written before the record that names their book
/// (<see cref="JobRecord.BookSizes"/>), so a record never names a book whose blocks are missing.
/// </summary>
public sealed class ShardJournal(IGrainStorage storage, string jobId)
{
    /// <summary>Shards per block: a block is rewritten whole when one of its shards changes.</summary>
    public const int BlockSize = 32;

    private const string StateName = "shards";

    private readonly Dictionary<(JobPass, int), GrainState<ShardBlock>> _blocks = [];

    // One write at a time: a block's etag changes with each write, so two writes of one block must not overlap.
    private readonly SemaphoreSlim _writing = new(1, 1);

    /// <summary>Reads the books that the record names.</summary>
    /// <exception cref="ExplainException">A block that the record names is missing.</exception>
    public async Task LoadAsync(JobRecord record)
    {
        foreach (var (pass, size) in record.BookSizes.OrderBy(b => b.Key))
        {
            var blocks = await Task.WhenAll(Enumerable.Range(0, Blocks(size)).Select(async b =>
            {
                var state = await StateAsync(pass, b);
                return state.RecordExists && state.State is { } stored ? stored.Records : throw new ExplainException($"its record of the {pass} pass's shards {b * BlockSize}+ is missing; submit the job again");
            }));
            var records = blocks.SelectMany(r => r).ToArray();
            if (records.Length != size) throw new ExplainException($"its record of the {pass} pass has {records.Length} shards, not {size}; submit the job again");
            record.Books[pass] = new ShardBook(records);
        }
    }

    /// <summary>
    /// Writes the blocks of every shard that changed since the last write (<see cref="ShardBook.TakeChanged"/>), at once. If a
    /// write fails, its shards stay noted as changed (<see cref="ShardBook.Unwritten"/>), for the next write.
    /// </summary>
    /// <returns>How many blocks were written.</returns>
    public async Task<int> WriteAsync(JobRecord record)
    {
        var changed = record.Books.SelectMany(b => b.Value.TakeChanged().Select(s => s / BlockSize).Distinct().Select(block => (Pass: b.Key, b.Value, block))).ToArray();
        if (changed.Length == 0) return 0;
        await _writing.WaitAsync();
        try
        {
            await Task.WhenAll(changed.Select(async c =>
            {
                var (first, end) = (c.block * BlockSize, Math.Min(c.Value.Records.Length, (c.block + 1) * BlockSize));
                try { await WriteAsync(c.Pass, c.block, c.Value.Records[first..end]); }
                catch
                {
                    c.Value.Unwritten(first, end);
                    throw;
                }
            }));
        }
        finally
        {
            _writing.Release();
        }
        return changed.Length;
    }

    private async Task WriteAsync(JobPass pass, int block, ShardRecord[] records)
    {
        // A block this activation has not read may be there from an earlier one (a pass planned again): its etag is needed.
        var state = await StateAsync(pass, block);
        state.State = new ShardBlock { Records = records };
        await storage.WriteStateAsync(StateName, Key(pass, block), state);
    }

    private async Task<GrainState<ShardBlock>> StateAsync(JobPass pass, int block)
    {
        if (_blocks.TryGetValue((pass, block), out var state)) return state;
        state = new GrainState<ShardBlock>(new ShardBlock());
        await storage.ReadStateAsync(StateName, Key(pass, block), state);
        return _blocks[(pass, block)] = state;
    }

    private static int Blocks(int size) => (size + BlockSize - 1) / BlockSize;

    private GrainId Key(JobPass pass, int block) => GrainId.Create("ec-shards", $"{jobId}/{pass}/{block}");
}

/// <summary>The records of one block of a job's shards (<see cref="ShardJournal"/>).</summary>
[GenerateSerializer, Alias("ec.ShardBlock")]
public sealed class ShardBlock
{
    [Id(0)] public ShardRecord[] Records { get; set; } = [];
}
