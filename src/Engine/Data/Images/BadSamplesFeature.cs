using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>A shard's skipped images: how many, how many of each kind (<see cref="BadSample.Kinds"/>), and the first few in index order.</summary>
public sealed record BadSamplesPartial(long Skipped, long[] ByKind, BadSample[] First);

/// <summary>
/// summary.json's <c>badSamples</c>: the images skipped (<c>"onBadSample": "skip"</c>), by kind, the first <see cref="BadSamplesFeature.Listed"/>
/// by dataset index, and the folder of the errors tables that list every one (<see cref="OutputLayout.ErrorsPart"/>).
/// </summary>
public sealed record BadSamplesSummary(long Skipped, Dictionary<string, long> ByKind, BadSample[] First, string Errors);

/// <summary>
/// Images skipped as unreadable (<c>"onBadSample": "skip"</c>): each shard counts those of its range and lists them in its errors
/// table; the counts are summed in shard order (so they are the same however the job was sharded) and the job fails once they pass
/// <c>data.maxBadSamples</c> (<see cref="Exceeded"/>). Present only with <c>skip</c>, even when nothing was skipped.
/// </summary>
public sealed class BadSamplesFeature : Feature<BadSamplesPartial, BadSamplesFeature.Sums>
{
    public static readonly BadSamplesFeature Instance = new();

    /// <summary>How many skipped images summary.json and the report name (the errors tables list every one).</summary>
    public const int Listed = 10;

    public override string Name => "badSamples";

    public override string Section => "badSamples";

    public override BadSamplesPartial? Compute(ShardOutcome s) => s.Data.Bad is not { } bad ? null
        : new BadSamplesPartial(bad.Length, [.. BadSample.Kinds.Select(k => (long)bad.Count(b => b.Kind == k))],
            [.. bad.Take(Listed).Select(b => b with { Location = Redaction.Location(b.Location) })]);

    public override void Write(BinaryWriter w, BadSamplesPartial p)
    {
        w.Write(p.Skipped);
        WriteArray(w, p.ByKind);
        w.Write(p.First.Length);
        foreach (var b in p.First)
        {
            w.Write(b.Index);
            w.Write(b.Location);
            w.Write(b.Kind);
            w.Write(b.Reason);
        }
    }

    public override BadSamplesPartial Read(BinaryReader r) =>
        new(r.ReadInt64(), ReadArray<long>(r), [.. Enumerable.Range(0, r.ReadInt32()).Select(_ => new BadSample(r.ReadInt64(), r.ReadString(), r.ReadString(), r.ReadString()))]);

    public override Sums NewSums(int classes) => new(this);

    /// <summary>
    /// The job's one-line error once the images skipped so far (shards folded in order) are more than <c>data.maxBadSamples</c>;
    /// null while they are not, and for a job that does not skip.
    /// </summary>
    public static string? Exceeded(SummaryBuilder summary, JobSpec job) =>
        job.Data.Images is { OnBadSample: BadSamplePolicy.Skip, MaxBadSamples: var limit } && summary.Sums<Sums>() is { } sums && sums.Skipped > limit
            ? $"data: {sums.Skipped} images could not be read, more than data.maxBadSamples ({limit}); the first: {sums.First[0].Location}: {sums.First[0].Reason}"
            : null;

    public sealed class Sums(BadSamplesFeature feature) : FeatureSums<BadSamplesPartial>(feature.Decode)
    {
        private readonly long[] _byKind = new long[BadSample.Kinds.Length];

        public long Skipped { get; private set; }

        /// <summary>The first skipped images by dataset index (shards are folded in order).</summary>
        public BadSample[] First { get; private set; } = [];

        public override void Fold(BadSamplesPartial p)
        {
            Skipped += p.Skipped;
            Totals.Add(_byKind, p.ByKind);
            if (First.Length < Listed) First = [.. First.Concat(p.First).Take(Listed)];
        }

        public override object? Summarise(SummaryDraft draft) => new BadSamplesSummary(Skipped,
            BadSample.Kinds.Select((k, i) => (k, n: _byKind[i])).Where(x => x.n > 0).ToDictionary(x => x.k, x => x.n), First, OutputLayout.Errors + "/");
    }
}

/// <summary>A shard's errors table (<see cref="OutputLayout.ErrorsPart"/>): one row per image skipped, <c>index</c>, <c>path</c>, <c>kind</c>, <c>reason</c>.</summary>
public static class BadSamplesTable
{
    public static async Task<byte[]> EncodeAsync(IReadOnlyList<BadSample> bad, CancellationToken ct = default)
    {
        var index = new DataField<long>("index");
        var path = new DataField<string>("path");
        var kind = new DataField<string>("kind");
        var reason = new DataField<string>("reason");
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(index, path, kind, reason), stream, cancellationToken: ct))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(index, new ReadOnlyMemory<long>([.. bad.Select(b => b.Index)]), cancellationToken: ct);
            await group.WriteAsync(path, bad.Select(b => Redaction.Location(b.Location)).ToArray());
            await group.WriteAsync(kind, bad.Select(b => b.Kind).ToArray());
            await group.WriteAsync(reason, bad.Select(b => b.Reason).ToArray());
        }
        return stream.ToArray();
    }
}
