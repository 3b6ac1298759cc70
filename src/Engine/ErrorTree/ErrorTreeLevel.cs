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
        var (open, f) = (g.Open, g.Features.Length);
        var histograms = g.Level < g.Options.Depth;
        var slot = new Dictionary<int, int>();
        for (var k = 0; k < open.Length; k++) slot[open[k]] = k;
        var nodes = open.Select(_ => NodeCounts.Empty(g, histograms)).ToArray();
        var (n, e) = (new long[open.Length], new long[open.Length]);
        // A method that explained every row staged them in the shard's order; only a subset's rows are looked up by index.
        var rowOf = attributions.Select(a => InShardOrder(a, rows) ? null : a.Index.Select((index, row) => (index, row)).ToDictionary(x => x.index, x => x.row)).ToArray();
        var codes = new int[rows.Width];
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & 4095) == 0) ct.ThrowIfCancellationRequested();
            rows.CodesOf(i, codes);
            if (g.NodeOf(codes) is var node && node < 0) continue;
            var (k, error) = (slot[node], rows.Errors[i] ? 1L : 0L);
            var counts = nodes[k];
            (n[k], e[k]) = (n[k] + 1, e[k] + error);
            if (counts.Hn is { } hn)
                for (var c = 0; c < codes.Length; c++)
                {
                    hn[c][codes[c]]++;
                    counts.He![c][codes[c]] += error;
                }
            var index = rows.IndexOf(i);
            for (var m = 0; m < attributions.Length; m++)
            {
                var row = i;
                if (rowOf[m] is { } lookup && !lookup.TryGetValue(index, out row)) continue;
                counts.Explained[m]++;
                for (var j = 0; j < f; j++) counts.Sums[m * f + j].Add(Math.Abs((double)attributions[m].Values[(long)row * f + j]));
            }
        }
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write(g.Level);
            w.Write(open.Length);
            for (var k = 0; k < open.Length; k++)
            {
                w.Write(n[k]);
                w.Write(e[k]);
                PartialIO.Write(w, nodes[k].Explained);
                foreach (var sum in nodes[k].Sums) PartialIO.Write(w, sum.Partials);
                w.Write(histograms);
                if (!histograms) continue;
                foreach (var h in nodes[k].Hn!) PartialIO.Write(w, h);
                foreach (var h in nodes[k].He!) PartialIO.Write(w, h);
            }
        }
        return stream.ToArray();
    }

    /// <summary>Whether <paramref name="a"/>'s rows are the shard's rows, in order (row i of both is the same dataset index).</summary>
    private static bool InShardOrder(StagedAttributions a, TreeRows rows)
    {
        if (a.Index.Length != rows.Count) return false;
        for (var i = 0; i < rows.Count; i++)
            if (a.Index[i] != rows.IndexOf(i)) return false;
        return true;
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
