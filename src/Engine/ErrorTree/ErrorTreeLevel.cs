using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>A method's per-feature attributions of a shard as the explain pass staged them: the dataset index of each row, and [rows, features] row-major.</summary>
public sealed record StagedAttributions(long[] Index, float[] Values);

/// <summary>
/// One level of the error tree over one shard's rows (the tree pass): each row's bins, the open node its path reaches, and per
/// open node its samples, errors (the explain pass's prediction against the label), per method the rows explained and the exact
/// sums of |attribution| per feature, and below the depth one histogram (samples, errors) per usable column and bin. No tensors:
/// the predictions and attributions are the explain attempt's staged parts. The partial is nodes × columns × bins, whatever
/// the shard's rows; <see cref="Fold"/> adds the shards' (integers and exact sums: the same in any order).
/// </summary>
public static class ErrorTreeLevel
{
    /// <summary>One open node's counts and sums over the rows folded so far; its histograms (per usable column, per bin) below the depth.</summary>
    public sealed record NodeCounts(long N, long Errors, long[] Explained, ExactSum[] Sums, long[][]? Hn, long[][]? He)
    {
        public static NodeCounts Empty(ErrorTreeGrowth g, bool histograms)
        {
            var usable = g.Usable;
            return new(0, 0, new long[g.Methods.Length], [.. Enumerable.Range(0, g.Methods.Length * g.Features.Length).Select(_ => new ExactSum())],
                histograms ? [.. usable.Select(c => new long[c.Tree.Bins])] : null, histograms ? [.. usable.Select(c => new long[c.Tree.Bins])] : null);
        }
    }

    /// <summary>The shard's counts of the growth's open nodes, encoded for <see cref="Fold.Add"/>.</summary>
    /// <param name="predictions">Each row's predicted class, in the shard's row order.</param>
    /// <param name="attributions">Per method of the growth, its staged rows.</param>
    public static byte[] Compute(ErrorTreeGrowth g, TableSpec table, ShardData data, long[] predictions, StagedAttributions[] attributions, CancellationToken ct = default) =>
        Compute(g, TreeRows.Of(g, table, data, predictions, ct), attributions, ct);

    /// <summary>The shard's counts of the growth's open nodes from its rows' codes and errors (<see cref="TreeRows"/>, the same at every level).</summary>
    public static byte[] Compute(ErrorTreeGrowth g, TreeRows rows, StagedAttributions[] attributions, CancellationToken ct = default)
    {
        var counter = new Counter(g, rows, ct);
        var f = g.Features.Length;
        var column = new double[attributions.Select(a => a.Index.Length).DefaultIfEmpty().Max()];
        for (var m = 0; m < attributions.Length; m++)
        {
            var a = attributions[m];
            var staged = counter.Explained(m, a.Index.Select(i => (double)i).ToArray());
            for (var j = 0; j < f; j++)
            {
                for (var r = 0; r < a.Index.Length; r++) column[r] = a.Values[(long)r * f + j];
                counter.Add(m, j, staged, column.AsSpan(0, a.Index.Length));
            }
        }
        return counter.Encode();
    }

    /// <summary>
    /// One shard's counts of a level, in two steps: its rows routed to the open nodes (samples, errors, histograms), then each
    /// method's staged attributions added a feature column at a time (<see cref="StagedParts.ColumnsAsync"/>), so that a method's
    /// [rows, features] is never held whole. The sums are exact, so the counts do not depend on the order they are added in.
    /// </summary>
    public sealed class Counter
    {
        private readonly ErrorTreeGrowth _g;
        private readonly TreeRows _rows;
        private readonly int[] _slot; // per row of the shard: its open node's place in _nodes, or −1
        private readonly NodeCounts[] _nodes;
        private readonly long[] _n, _e;

        public Counter(ErrorTreeGrowth g, TreeRows rows, CancellationToken ct = default)
        {
            (_g, _rows) = (g, rows);
            var open = g.Open;
            var histograms = g.Level < g.Options.Depth;
            var slot = new Dictionary<int, int>();
            for (var k = 0; k < open.Length; k++) slot[open[k]] = k;
            _nodes = [.. open.Select(_ => NodeCounts.Empty(g, histograms))];
            (_n, _e) = (new long[open.Length], new long[open.Length]);
            _slot = new int[rows.Count];
            var codes = new int[rows.Width];
            for (var i = 0; i < rows.Count; i++)
            {
                if ((i & 4095) == 0) ct.ThrowIfCancellationRequested();
                rows.CodesOf(i, codes);
                if (g.NodeOf(codes) is var node && node < 0)
                {
                    _slot[i] = -1;
                    continue;
                }
                var (k, error) = (_slot[i] = slot[node], rows.Errors[i] ? 1L : 0L);
                (_n[k], _e[k]) = (_n[k] + 1, _e[k] + error);
                if (_nodes[k].Hn is not { } hn) continue;
                for (var c = 0; c < codes.Length; c++)
                {
                    hn[c][codes[c]]++;
                    _nodes[k].He![c][codes[c]] += error;
                }
            }
        }

        /// <summary>
        /// Method <paramref name="m"/>'s staged rows, by their dataset indices: counts them explained in their nodes, and returns
        /// the shard's row of each (−1: not one of the shard's rows). A method that explained every row staged them in the
        /// shard's order; only a subset's rows are looked up.
        /// </summary>
        public int[] Explained(int m, ReadOnlySpan<double> index)
        {
            var shardRows = new int[index.Length];
            if (InShardOrder(index, _rows))
                for (var r = 0; r < index.Length; r++) shardRows[r] = r;
            else
            {
                var stagedRow = new Dictionary<long, int>(index.Length);
                for (var r = 0; r < index.Length; r++) stagedRow.Add((long)index[r], r);
                Array.Fill(shardRows, -1);
                for (var i = 0; i < _rows.Count; i++)
                    if (stagedRow.TryGetValue(_rows.IndexOf(i), out var r)) shardRows[r] = i;
            }
            foreach (var i in shardRows)
                if (i >= 0 && _slot[i] >= 0) _nodes[_slot[i]].Explained[m]++;
            return shardRows;
        }

        /// <summary>Adds |attribution| of feature <paramref name="j"/> of method <paramref name="m"/>, one value per staged row, to its row's node.</summary>
        public void Add(int m, int j, int[] shardRows, ReadOnlySpan<double> column)
        {
            var at = m * _g.Features.Length + j;
            for (var r = 0; r < column.Length; r++)
                if (shardRows[r] is var i && i >= 0 && _slot[i] is var k && k >= 0) _nodes[k].Sums[at].Add(Math.Abs(column[r]));
        }

        /// <summary>The counts, encoded for <see cref="Fold.Add"/>.</summary>
        public byte[] Encode()
        {
            var histograms = _g.Level < _g.Options.Depth;
            using var stream = new MemoryStream();
            using (var w = new BinaryWriter(stream))
            {
                w.Write(_g.Level);
                w.Write(_nodes.Length);
                for (var k = 0; k < _nodes.Length; k++)
                {
                    w.Write(_n[k]);
                    w.Write(_e[k]);
                    PartialIO.Write(w, _nodes[k].Explained);
                    foreach (var sum in _nodes[k].Sums) PartialIO.Write(w, sum.Partials);
                    w.Write(histograms);
                    if (!histograms) continue;
                    foreach (var h in _nodes[k].Hn!) PartialIO.Write(w, h);
                    foreach (var h in _nodes[k].He!) PartialIO.Write(w, h);
                }
            }
            return stream.ToArray();
        }

        /// <summary>Whether the staged rows are the shard's rows, in order (row i of both is the same dataset index).</summary>
        private static bool InShardOrder(ReadOnlySpan<double> index, TreeRows rows)
        {
            if (index.Length != rows.Count) return false;
            for (var i = 0; i < rows.Count; i++)
                if ((long)index[i] != rows.IndexOf(i)) return false;
            return true;
        }
    }

    /// <summary>The level a shard's counts are of.</summary>
    public static int LevelOf(byte[] counts) => BitConverter.ToInt32(counts, 0);

    /// <summary>The shards' counts of one level added up, in any order (integers and exact sums).</summary>
    public sealed class Fold(ErrorTreeGrowth g)
    {
        private readonly bool _histograms = g.Level < g.Options.Depth;

        public int Level { get; } = g.Level;

        public NodeCounts[] Nodes { get; private set; } = [.. g.Open.Select(_ => NodeCounts.Empty(g, g.Level < g.Options.Depth))];

        /// <summary>Adds a shard's counts; a partial of another level or shape is refused (its attempt ran on another tree).</summary>
        public string? Add(byte[] partial)
        {
            using var r = new BinaryReader(new MemoryStream(partial, writable: false));
            if (r.ReadInt32() is var level && level != Level) return $"the error tree's level {level} partial arrived in level {Level}";
            if (r.ReadInt32() is var count && count != Nodes.Length) return $"the error tree's level {Level} partial has {count} nodes, the tree {Nodes.Length}";
            for (var k = 0; k < count; k++)
            {
                var node = Nodes[k];
                var (n, e, explained) = (r.ReadInt64(), r.ReadInt64(), PartialIO.Read<long>(r));
                Totals.Add(node.Explained, explained);
                foreach (var sum in node.Sums) sum.Add(ExactSum.Of(PartialIO.Read<double>(r)));
                if (r.ReadBoolean() != _histograms) return $"the error tree's level {Level} partial has {(_histograms ? "no" : "")} histograms";
                if (_histograms)
                {
                    foreach (var h in node.Hn!) Totals.Add(h, PartialIO.Read<long>(r));
                    foreach (var h in node.He!) Totals.Add(h, PartialIO.Read<long>(r));
                }
                Nodes[k] = node with { N = node.N + n, Errors = node.Errors + e };
            }
            return null;
        }
    }
}
