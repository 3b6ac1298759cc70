using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>
/// A column of the error tree: what it splits on (<see cref="Tree"/>: bin edges or levels), its kind and whether the tree may split
/// on it; a metadata column's <see cref="Values"/> as the table has them (a row's level is its value's place among them).
/// </summary>
public sealed record GrowColumn(TreeColumn Tree, string Kind, bool Split, int Source, string?[]? Values = null)
{
    /// <summary>The column as summary.json lists it: a numeric feature's edges in its own units.</summary>
    public ErrorTreeColumn Summary => Kind == "numeric"
        ? new(Tree.Name, Kind, [.. Enumerable.Range(0, Tree.Edges!.Length).Select(Tree.Raw)], null, true)
        : new(Tree.Name, Kind, null, Split ? Tree.Levels : null, Split);
}

/// <summary>
/// A node of a tree being grown: its depth, parent and, once its level is counted, its samples, errors, and per method the samples
/// explained and the exact sums of |attribution| per feature (method-major, <see cref="ExactSum.Partials"/>); its split and children
/// once chosen (a counted node without a split is a leaf).
/// </summary>
public sealed class GrowNode
{
    public int Depth { get; init; }

    public int Parent { get; init; } = -1;

    public bool Counted { get; set; }

    public long N { get; set; }

    public long Errors { get; set; }

    public long[] Explained { get; set; } = [];

    public double[][] Sums { get; set; } = [];

    public TreeSplit? Split { get; set; }

    public int Left { get; set; } = -1;

    public int Right { get; set; } = -1;
}

/// <summary>
/// The error tree grown level by level, as the tree pass keeps it in the job's record (<see cref="Encode"/>): the columns with their
/// bins fixed before growing (<see cref="Begin"/>), the nodes so far, and the <see cref="Level"/> whose nodes the shards count now.
/// Each shard routes its rows through the splits chosen so far and sends, per node of the level, its samples, errors, |attribution|
/// sums and one histogram (samples, errors) per column and bin (<see cref="ErrorTreeLevel"/>); the histograms are integers and the
/// sums exact, so their fold is the whole table's in any order, and the level's splits are chosen from it with
/// <see cref="ErrorTreeGrower.BestSplit"/>: the tree <see cref="ErrorTreeGrower.Grow"/> makes from the whole table binned alike.
/// A level's nodes are counted once more at the tree's depth (their leaves' sums); a level with no node left ends the tree.
/// </summary>
public sealed class ErrorTreeGrowth
{
    public required ErrorTreeSpec Options { get; init; }

    public required TreeFeature[] Features { get; init; }

    public required string[] Metadata { get; init; }

    public required string[] Methods { get; init; }

    /// <summary>Every column: the features in order, then the metadata columns.</summary>
    public required GrowColumn[] Columns { get; init; }

    /// <summary>Rows of the bins' sample.</summary>
    public required int SampleRows { get; init; }

    public int Level { get; set; }

    public List<GrowNode> Nodes { get; init; } = [];

    /// <summary>The columns the tree may split on, in order (<see cref="TreeSplit.Column"/> indexes them).</summary>
    public GrowColumn[] Usable => [.. Columns.Where(c => c.Split)];

    /// <summary>The nodes whose level the shards count now, by index.</summary>
    public int[] Open => [.. Enumerable.Range(0, Nodes.Count).Where(k => Nodes[k].Depth == Level && !Nodes[k].Counted)];

    /// <summary>Whether every node is counted: the tree is grown.</summary>
    public bool Done => Nodes.All(n => n.Counted);

    /// <summary>The tree's start from the explain pass's merge: each numeric feature's bins from the sample, the root open.</summary>
    public static ErrorTreeGrowth Begin(ErrorTreePartial merged)
    {
        var (f, sample) = (merged.Features.Length, merged.Sample);
        var rows = sample.Index.Length;
        var columns = new List<GrowColumn>();
        for (var j = 0; j < f; j++)
        {
            var feature = merged.Features[j];
            if (feature.Levels is { } levels)
            {
                columns.Add(new GrowColumn(new TreeColumn(feature.Name, null, levels), "categorical", true, j));
                continue;
            }
            var distinct = Enumerable.Range(0, rows).GroupBy(r => (double)sample.Rows[r * f + j]).Select(g => (g.Key, (long)g.Count())).OrderBy(x => x.Key).ToArray();
            columns.Add(new GrowColumn(new TreeColumn(feature.Name, ErrorTreeGrower.Edges(distinct, merged.Options.Bins), null, feature.Mean, feature.Std), "numeric", true, j));
        }
        for (var m = 0; m < merged.Metadata.Length; m++)
        {
            var values = merged.Levels[m];
            var split = values.Length <= ErrorTreeSummaries.MaxMetadataLevels;
            columns.Add(new GrowColumn(new TreeColumn(merged.Metadata[m], null, [.. values.Select(v => v ?? ErrorTreeSummaries.Missing)]), "metadata", split, f + m, values));
        }
        return new ErrorTreeGrowth
        {
            Options = merged.Options, Features = merged.Features, Metadata = merged.Metadata, Methods = merged.Methods,
            Columns = [.. columns], SampleRows = rows, Nodes = [new GrowNode { Depth = 0 }],
        };
    }

    /// <summary>A row's bin or level in each usable column, from its tree values and metadata.</summary>
    public int[] Codes(GrowColumn[] usable, float[] values, string?[] metadata)
    {
        var codes = new int[usable.Length];
        for (var c = 0; c < usable.Length; c++)
        {
            var (column, source) = (usable[c], usable[c].Source);
            codes[c] = column.Kind switch
            {
                "numeric" => column.Tree.BinOf(values[source]),
                "categorical" => Math.Clamp((int)values[source], 0, Math.Max(0, column.Tree.Bins - 1)),
                _ => Array.IndexOf(column.Values!, metadata[source - Features.Length]) is var at and >= 0 ? at
                    : throw new InvalidOperationException($"metadata column {column.Tree.Name}: a value the explain pass did not see"),
            };
        }
        return codes;
    }

    /// <summary>The open node a row with <paramref name="codes"/> reaches; −1 when it ends in a leaf above the level.</summary>
    public int NodeOf(int[] codes)
    {
        var k = 0;
        while (Nodes[k].Split is { } split) k = ErrorTreeGrower.GoesLeft(split, codes) ? Nodes[k].Left : Nodes[k].Right;
        return Nodes[k].Counted ? -1 : k;
    }

    /// <summary>
    /// The level's fold: each open node's counts and sums; below the depth, its split by <see cref="ErrorTreeGrower.BestSplit"/>
    /// (the table's samples and errors are the root's) and two open children; then the next level.
    /// </summary>
    public void Complete(ErrorTreeLevel.Fold fold)
    {
        if (fold.Level != Level) throw new InvalidOperationException($"a fold of level {fold.Level} for the tree's level {Level}");
        var open = Open;
        var usable = Usable;
        for (var k = 0; k < open.Length; k++)
        {
            var (node, counts) = (Nodes[open[k]], fold.Nodes[k]);
            (node.N, node.Errors, node.Explained, node.Sums, node.Counted) = (counts.N, counts.Errors, counts.Explained, [.. counts.Sums.Select(s => s.Partials)], true);
        }
        if (Level < Options.Depth)
        {
            var (n, e) = (Nodes[0].N, Nodes[0].Errors);
            for (var k = 0; k < open.Length; k++)
            {
                var node = Nodes[open[k]];
                if (ErrorTreeGrower.BestSplit([.. usable.Select(c => c.Tree)], fold.Nodes[k].Hn!, fold.Nodes[k].He!, node.N, node.Errors, n, e, Options.MinLeaf) is not { } split) continue;
                node.Split = split;
                (node.Left, node.Right) = (Nodes.Count, Nodes.Count + 1);
                Nodes.Add(new GrowNode { Depth = Level + 1, Parent = open[k] });
                Nodes.Add(new GrowNode { Depth = Level + 1, Parent = open[k] });
            }
        }
        Level++;
    }

    /// <summary>
    /// The options and columns (their bins) as a hash: what a row's codes (<see cref="Codes"/>) depend on, the same at every level of
    /// one tree (<see cref="TreeRowsCache"/>).
    /// </summary>
    public string ColumnsKey
    {
        get
        {
            using var stream = new MemoryStream();
            using (var w = new BinaryWriter(stream)) WriteColumns(w);
            return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream.ToArray()));
        }
    }

    private void WriteColumns(BinaryWriter w)
    {
        WriteHeader(w, Options, Features, Metadata, Methods);
        w.Write(SampleRows);
        w.Write(Columns.Length);
        foreach (var c in Columns)
        {
            w.Write(c.Tree.Name);
            w.Write(c.Kind);
            w.Write(c.Split);
            w.Write(c.Source);
            w.Write(c.Tree.Mean);
            w.Write(c.Tree.Std);
            w.Write(c.Tree.Edges is not null);
            if (c.Tree.Edges is { } edges) PartialIO.Write(w, edges);
            else WriteValues(w, c.Tree.Levels!);
            w.Write(c.Values is not null);
            if (c.Values is { } values) WriteValues(w, values);
        }
    }

    public byte[] Encode()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            WriteColumns(w);
            w.Write(Level);
            w.Write(Nodes.Count);
            foreach (var n in Nodes)
            {
                w.Write(n.Depth);
                w.Write(n.Parent);
                w.Write(n.Counted);
                w.Write(n.N);
                w.Write(n.Errors);
                PartialIO.Write(w, n.Explained);
                w.Write(n.Sums.Length);
                foreach (var s in n.Sums) PartialIO.Write(w, s);
                w.Write(n.Split is not null);
                if (n.Split is { } split)
                {
                    w.Write(split.Column);
                    w.Write(split.Threshold);
                    w.Write(split.Gain);
                    w.Write(split.Left is not null);
                    if (split.Left is { } left) PartialIO.Write(w, [.. left.Select(x => x ? (byte)1 : (byte)0)]);
                    w.Write(n.Left);
                    w.Write(n.Right);
                }
            }
        }
        return stream.ToArray();
    }

    public static ErrorTreeGrowth Decode(byte[] data)
    {
        using var r = new BinaryReader(new MemoryStream(data, writable: false));
        var (options, features, metadata, methods) = ReadHeader(r);
        var sampleRows = r.ReadInt32();
        var columns = new GrowColumn[r.ReadInt32()];
        for (var c = 0; c < columns.Length; c++)
        {
            var (name, kind, split, source, mean, std) = (r.ReadString(), r.ReadString(), r.ReadBoolean(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble());
            var tree = r.ReadBoolean() ? new TreeColumn(name, PartialIO.Read<double>(r), null, mean, std) : new TreeColumn(name, null, [.. ReadValues(r).Select(v => v!)], mean, std);
            columns[c] = new GrowColumn(tree, kind, split, source, r.ReadBoolean() ? ReadValues(r) : null);
        }
        var level = r.ReadInt32();
        var nodes = new List<GrowNode>();
        for (var k = r.ReadInt32(); k > 0; k--)
        {
            var node = new GrowNode { Depth = r.ReadInt32(), Parent = r.ReadInt32() };
            (node.Counted, node.N, node.Errors, node.Explained) = (r.ReadBoolean(), r.ReadInt64(), r.ReadInt64(), PartialIO.Read<long>(r));
            node.Sums = [.. Enumerable.Range(0, r.ReadInt32()).Select(_ => PartialIO.Read<double>(r))];
            if (r.ReadBoolean())
            {
                var (column, threshold, gain) = (r.ReadInt32(), r.ReadInt32(), r.ReadDouble());
                bool[]? left = r.ReadBoolean() ? [.. PartialIO.Read<byte>(r).Select(b => b != 0)] : null;
                node.Split = new TreeSplit(column, threshold, left, gain);
                (node.Left, node.Right) = (r.ReadInt32(), r.ReadInt32());
            }
            nodes.Add(node);
        }
        return new ErrorTreeGrowth
        {
            Options = options, Features = features, Metadata = metadata, Methods = methods, Columns = columns, SampleRows = sampleRows, Level = level, Nodes = nodes,
        };
    }

    /// <summary>The options and columns every error-tree partial and the growth begin with.</summary>
    public static void WriteHeader(BinaryWriter w, ErrorTreeSpec options, TreeFeature[] features, string[] metadata, string[] methods)
    {
        w.Write(options.Depth);
        w.Write(options.MinLeaf);
        w.Write(options.Bins);
        w.Write(features.Length);
        foreach (var x in features)
        {
            w.Write(x.Name);
            w.Write(x.Levels is not null);
            if (x.Levels is not null) WriteValues(w, x.Levels);
            w.Write(x.Mean);
            w.Write(x.Std);
        }
        WriteValues(w, metadata);
        WriteValues(w, methods);
    }

    public static (ErrorTreeSpec, TreeFeature[], string[], string[]) ReadHeader(BinaryReader r)
    {
        var options = new ErrorTreeSpec(r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
        var features = new TreeFeature[r.ReadInt32()];
        for (var j = 0; j < features.Length; j++)
            features[j] = new TreeFeature(r.ReadString(), r.ReadBoolean() ? [.. ReadValues(r).Select(v => v!)] : null, r.ReadDouble(), r.ReadDouble());
        return (options, features, [.. ReadValues(r).Select(v => v!)], [.. ReadValues(r).Select(v => v!)]);
    }

    /// <summary>Strings, each possibly missing.</summary>
    public static void WriteValues(BinaryWriter w, string?[] values)
    {
        w.Write(values.Length);
        foreach (var v in values)
        {
            w.Write(v is not null);
            if (v is not null) w.Write(v);
        }
    }

    public static string?[] ReadValues(BinaryReader r) => [.. Enumerable.Range(0, r.ReadInt32()).Select(_ => r.ReadBoolean() ? r.ReadString() : null)];
}
