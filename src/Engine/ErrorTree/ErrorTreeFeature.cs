using ExplainCluster.Contracts;
using ExplainCluster.Engine.Dependence;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>What the error tree needs of the job in each shard: its options and the table's encodings.</summary>
public sealed record ErrorTreeInput(ErrorTreeSpec Options, TableSpec Table);

/// <summary>
/// A shard's error-tree partial from the explain pass: the job's options and columns (to check every shard agrees), its samples
/// and errors, its rows of the bins' sample (<see cref="Sample"/>: each row's tree values, <see cref="ErrorTreeFeature.Values"/>),
/// and per metadata column its smallest distinct values (<see cref="Levels"/>, ordinal order, a missing value first; at most
/// <see cref="ErrorTreeSummaries.MaxMetadataLevels"/> + 1, one more than the tree splits on).
/// </summary>
public sealed record ErrorTreePartial(ErrorTreeSpec Options, TreeFeature[] Features, string[] Metadata, string[] Methods,
    long Samples, long Errors, DependenceSamplePartial Sample, string?[][] Levels);

/// <summary>
/// A table feature as the tree reads it: a categorical one's <see cref="Levels"/> (null: numeric), and how an encoded number
/// becomes the column's own (<see cref="Mean"/> + <see cref="Std"/> · value: a standardized feature's; 0 and 1 otherwise).
/// </summary>
public sealed record TreeFeature(string Name, string[]? Levels, double Mean, double Std)
{
    public static TreeFeature Of(TableFeature f) => f.Categorical || f.Encoding is FeatureEncoding.OneHot or FeatureEncoding.Index
        ? new(f.Name, f.Levels ?? [], 0, 1)
        : f.Encoding == FeatureEncoding.Standardize ? new(f.Name, null, f.Mean, f.Std) : new(f.Name, null, 0, 1);

    public bool Equals(TreeFeature? other) => other is not null && Name == other.Name && Mean.Equals(other.Mean) && Std.Equals(other.Std)
        && (Levels ?? []).SequenceEqual(other.Levels ?? []) && (Levels is null) == (other.Levels is null);

    public override int GetHashCode() => HashCode.Combine(Name, Mean, Std);
}

/// <summary>
/// Error cohorts of a table job (<see cref="ErrorTreeOptions"/>; summary.json's <c>errorTree</c>): a surrogate tree on
/// "misclassified", grown level by level from histograms (<see cref="ErrorTreeGrowth"/>). In the explain pass each shard sends
/// its rows of a bottom-k sample (the <see cref="SampleSize"/> rows of smallest key (<see cref="SampleSeed"/>, dataset index),
/// as the dependence views' sample) and its metadata values; the merge keeps the smallest of all, so the bins fixed from it
/// (<see cref="Begin"/>) are the same however the table was sharded. The tree pass then grows the tree from per-node histograms
/// that every shard computes from its own rows, so nothing here grows with the table's rows or distinct rows.
/// </summary>
public sealed class ErrorTreeFeature : Feature<ErrorTreePartial, ErrorTreeFeature.Sums>
{
    public static readonly ErrorTreeFeature Instance = new();

    /// <summary>
    /// Rows of the bins' sample: a table of at most this many rows has its bins from its exact distribution; a larger one's
    /// quantile edges are within the DKW bound of their levels (<see cref="DependenceSample.QuantileError"/>: 1.4% at 95%).
    /// </summary>
    public const int SampleSize = 10_000;

    /// <summary>The seed of the sample's keys: fixed, so the bins depend on the table alone.</summary>
    public const long SampleSeed = 0x7EE;

    public override string Name => "errorTree";

    public override string Section => "errorTree";

    public override ErrorTreePartial? Compute(ShardOutcome s)
    {
        if (s.Data.ErrorTree is not { } input || s.Result.Labels is not { } labels) return null;
        var (r, table) = (s.Result, input.Table);
        var f = table.Features.Length;
        var width = table.Features.Sum(x => x.Width);
        var methods = r.Methods.Where(m => m.MapShape.SequenceEqual([f])).Select(m => m.Name).ToArray();
        var errors = Enumerable.Range(0, r.Count).LongCount(i => labels[i] != r.Predictions[i]);
        var picked = Enumerable.Range(0, r.Count).Select(i => (Key: SampleSeeds.For(SampleSeed, s.Data.IndexOf(i)), Row: i))
            .OrderBy(x => x.Key).ThenBy(x => x.Row).Take(SampleSize).ToArray();
        var rows = new float[picked.Length * f];
        for (var k = 0; k < picked.Length; k++) Values(table, s.Data.Raw.AsSpan(picked[k].Row * width, width)).CopyTo(rows, k * f);
        var sample = new DependenceSamplePartial(f, SampleSize, [.. picked.Select(p => s.Data.IndexOf(p.Row))], [.. picked.Select(p => p.Key)], rows);
        var levels = table.Metadata.Select(name => Smallest(s.Data.Metadata?.Single(c => c.Name == name).Values ?? [null])).ToArray();
        return new ErrorTreePartial(input.Options, [.. table.Features.Select(TreeFeature.Of)], table.Metadata, methods, r.Count, errors, sample, levels);
    }

    /// <summary>A row's value per feature: a numeric feature's encoded value, a categorical one's level index.</summary>
    public static float[] Values(TableSpec table, ReadOnlySpan<float> vector)
    {
        var values = new float[table.Features.Length];
        var offset = 0;
        for (var j = 0; j < values.Length; j++)
        {
            var feature = table.Features[j];
            var slice = vector.Slice(offset, feature.Width);
            values[j] = feature.Encoding == FeatureEncoding.OneHot ? slice.IndexOf(1f) : slice[0];
            offset += feature.Width;
        }
        return values;
    }

    /// <summary>The distinct values in ordinal order (a missing value first), at most one more than the tree splits on.</summary>
    private static string?[] Smallest(IEnumerable<string?> values) =>
        [.. values.Distinct().Order(StringComparer.Ordinal).Take(ErrorTreeSummaries.MaxMetadataLevels + 1)];

    public override void Write(BinaryWriter w, ErrorTreePartial p)
    {
        ErrorTreeGrowth.WriteHeader(w, p.Options, p.Features, p.Metadata, p.Methods);
        w.Write(p.Samples);
        w.Write(p.Errors);
        DependenceFeature.Instance.Write(w, p.Sample);
        foreach (var levels in p.Levels) ErrorTreeGrowth.WriteValues(w, levels);
    }

    public override ErrorTreePartial Read(BinaryReader r)
    {
        var (options, features, metadata, methods) = ErrorTreeGrowth.ReadHeader(r);
        var (samples, errors) = (r.ReadInt64(), r.ReadInt64());
        var sample = DependenceFeature.Instance.Read(r);
        return new ErrorTreePartial(options, features, metadata, methods, samples, errors, sample, [.. metadata.Select(_ => ErrorTreeGrowth.ReadValues(r))]);
    }

    public override Sums NewSums(int classes) => new(this);

    /// <summary>The shards' samples merged (the smallest keys of all) and their metadata values; then the tree the tree pass grew.</summary>
    public sealed class Sums(ErrorTreeFeature feature) : FeatureSums<ErrorTreePartial>(feature.Decode)
    {
        private ErrorTreePartial? _merged;

        /// <summary>The tree once the tree pass has grown it (<see cref="ErrorTreeGrowth.Done"/>).</summary>
        public ErrorTreeGrowth? Grown { get; set; }

        /// <summary>The merged partial: every shard's samples and errors, the table's sample and metadata values.</summary>
        public ErrorTreePartial? Merged => _merged;

        public override void Fold(ErrorTreePartial partial)
        {
            if (_merged is not { } m)
            {
                _merged = partial;
                return;
            }
            if (m.Options != partial.Options || !m.Features.SequenceEqual(partial.Features) || !m.Metadata.SequenceEqual(partial.Metadata)
                || !m.Methods.SequenceEqual(partial.Methods))
                throw new ArgumentException("error-tree partials of different options or columns", nameof(partial));
            _merged = m with
            {
                Samples = m.Samples + partial.Samples, Errors = m.Errors + partial.Errors, Sample = DependenceSample.Merge(m.Sample, partial.Sample),
                Levels = [.. m.Levels.Zip(partial.Levels, (a, b) => Smallest(a.Concat(b)))],
            };
        }

        /// <summary>The tree pass's start: the bins fixed from the merged sample and metadata values, the root open; null without a tree.</summary>
        public ErrorTreeGrowth? Begin() => _merged is { } m ? ErrorTreeGrowth.Begin(m) : null;

        public override object? Summarise(SummaryDraft draft) =>
            Grown is { Done: true } grown ? ErrorTreeSummaries.Of(grown, draft.Settings.Confidence) : null;
    }
}
