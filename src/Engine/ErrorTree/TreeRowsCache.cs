namespace ExplainCluster.Engine.ErrorTree;

/// <summary>
/// A silo's <see cref="TreeRows"/> from one level of a job's error tree to the next: without them every level read each shard's rows
/// from the table again, and in a Parquet table that is row groups decoded whole each time (the tree pass of the 1,000,000-row
/// benchmark allocated more than its explain pass, and set the silos' peak memory: docs/benchmarks.md). Rows of one job at a time
/// (another job's first request drops the rest), up to <see cref="MaxBytes"/> (a byte a row and usable column): the shards past it
/// are read at each level from the file the first level staged beside the explain attempt's parts (<see cref="TreeRows.Encode"/>),
/// so what a silo keeps does not grow with the table. A shard's rows are dropped after the tree's last level. 8 MB by default
/// (<see cref="Jobs.Limits.TreeRowsBytes"/>; 16 shards of 16,384 rows and 32 columns): at 64 MB a 3,000,000-row job kept 46 MB a silo, a 100,000-row job 2 MB, and the silos' peak
/// memory grew with the rows (docs/benchmarks.md).
/// </summary>
public sealed class TreeRowsCache(long maxBytes = 8L << 20)
{
    private readonly object _lock = new();
    private readonly Dictionary<TreeRowsKey, TreeRows> _rows = [];
    private string? _job;
    private long _bytes;

    public long MaxBytes => maxBytes;

    /// <summary>How many shards' rows are kept.</summary>
    public int Count
    {
        get { lock (_lock) return _rows.Count; }
    }

    public TreeRows? Get(TreeRowsKey key)
    {
        lock (_lock) return _job == key.Job && _rows.TryGetValue(key, out var rows) ? rows : null;
    }

    /// <summary>Keeps <paramref name="rows"/> if they fit; a key of another job than those kept drops them first.</summary>
    public void Keep(TreeRowsKey key, TreeRows rows)
    {
        lock (_lock)
        {
            if (_job != key.Job)
            {
                _rows.Clear();
                (_job, _bytes) = (key.Job, 0);
            }
            if (!rows.Compact || _rows.ContainsKey(key) || _bytes + rows.Bytes > maxBytes) return;
            _rows[key] = rows;
            _bytes += rows.Bytes;
        }
    }

    public void Drop(TreeRowsKey key)
    {
        lock (_lock)
            if (_rows.Remove(key, out var rows)) _bytes -= rows.Bytes;
    }
}

/// <summary>
/// A shard's tree rows: its job (as written, and its output), the shard, the explain attempt whose predictions give the errors, and
/// the tree's columns (<see cref="ErrorTreeGrowth.ColumnsKey"/>).
/// </summary>
public readonly record struct TreeRowsKey(string Job, int Shard, int ExplainAttempt, string Columns);
