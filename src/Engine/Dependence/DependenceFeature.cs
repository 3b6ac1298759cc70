using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Dependence;

/// <summary>
/// A table's dependence views (<c>dependence</c>): in the explain pass each shard adds its rows to the seeded sample
/// (<see cref="DependenceSample"/>); the post plan takes the grids, the ICE rows and permutation importance's values from the
/// merged sample (<see cref="Plan"/>); every shard's post results (<see cref="DependenceWorker"/>) are exact sums and counts,
/// folded in shard order into summary.json's <c>dependence</c> (<see cref="DependenceSummaries"/>), the same bit for bit however
/// the job was sharded.
/// </summary>
public sealed class DependenceFeature : Feature<DependenceSamplePartial, DependenceFeature.Sums>
{
    public static readonly DependenceFeature Instance = new();

    public override string Name => "dependence";

    public override string Section => "dependence";

    public override DependenceSamplePartial? Compute(ShardOutcome shard) => DependenceSample.Of(shard.Data, shard.Result.Methods);

    public override void Write(BinaryWriter w, DependenceSamplePartial p)
    {
        w.Write(p.Width);
        w.Write(p.Size);
        WriteArray(w, p.Index);
        WriteArray(w, p.Key);
        WriteArray(w, p.Rows);
        w.Write(p.Methods.Length);
        foreach (var m in p.Methods) w.Write(m);
        w.Write(p.Features);
        WriteArray(w, p.Attributions);
    }

    public override DependenceSamplePartial Read(BinaryReader r) => new(r.ReadInt32(), r.ReadInt32(), ReadArray<long>(r), ReadArray<ulong>(r), ReadArray<float>(r),
        [.. Enumerable.Range(0, r.ReadInt32()).Select(_ => r.ReadString())], r.ReadInt32(), ReadArray<float>(r));

    /// <summary>A shard's post results as they travel in <see cref="PostPartial.Dependence"/>.</summary>
    public static byte[] EncodePost(DependencePostPartial p)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write(p.Rows);
            w.Write(p.Classes);
            w.Write(p.Curves.Length);
            foreach (var c in p.Curves)
            {
                WriteJagged(w, c.Pdp);
                WriteJagged(w, c.Ale);
                PartialIO.Write(w, c.AleCount);
                PartialIO.Write(w, c.IceIndex);
                PartialIO.Write(w, c.Ice);
            }
            w.Write(p.Labelled);
            w.Write(p.BaseCorrect);
            PartialIO.Write(w, p.Correct);
        }
        return stream.ToArray();
    }

    public static DependencePostPartial DecodePost(byte[] data)
    {
        using var r = new BinaryReader(new MemoryStream(data, writable: false));
        var (rows, classes) = (r.ReadInt64(), r.ReadInt32());
        var curves = new CurveSums[r.ReadInt32()];
        for (var k = 0; k < curves.Length; k++)
            curves[k] = new CurveSums(ReadJagged(r), ReadJagged(r), PartialIO.Read<long>(r), PartialIO.Read<long>(r), PartialIO.Read<float>(r));
        return new DependencePostPartial(rows, classes, curves, r.ReadInt64(), r.ReadInt64(), PartialIO.Read<long>(r));
    }

    private static void WriteJagged(BinaryWriter w, double[][] arrays)
    {
        w.Write(arrays.Length);
        foreach (var a in arrays) PartialIO.Write(w, a);
    }

    private static double[][] ReadJagged(BinaryReader r) => [.. Enumerable.Range(0, r.ReadInt32()).Select(_ => PartialIO.Read<double>(r))];

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(DependenceFeature feature) : FeatureSums<DependenceSamplePartial>(feature.Decode), IPostFeatureSums
    {
        private readonly SortedDictionary<int, DependencePostPartial> _posts = [];
        private DependenceSamplePartial? _sample;

        /// <summary>The job and its plan, once <see cref="Plan"/> made it.</summary>
        private (JobSpec Job, DependenceWork Work)? _plan;

        /// <summary>The merged sample: the smallest-key rows of every shard folded so far.</summary>
        public DependenceSamplePartial? Sample => _sample;

        public override void Fold(DependenceSamplePartial partial)
        {
            _sample = _sample is null ? partial : DependenceSample.Merge(_sample, partial);
        }

        /// <summary>
        /// The post pass's work for <paramref name="job"/> from the merged sample and, for a number of features, the job's first
        /// method's mean |attribution| (<paramref name="importance"/>); null without <c>dependence</c>.
        /// </summary>
        public DependenceWork? Plan(JobSpec job, Tabular.FeatureImportanceFeature.Sums? importance)
        {
            if (job.Dependence is not { } spec || job.Data.Table is not { } table || _sample is not { } sample) return null;
            var offsets = table.Features.Select((_, f) => table.Features.Take(f).Sum(x => x.Width)).ToArray();
            var m = sample.Index.Length;
            var values = table.Features.Select((f, j) => Enumerable.Range(0, m).Select(r => DependenceSample.ValueOf(f, offsets[j], sample.Rows, r, sample.Width)).ToArray()).ToArray();
            var features = spec.Features is { } named ? [.. named.Select(n => Array.FindIndex(table.Features, f => f.Name == n))] : Top(table, spec.Top, job, importance);
            var grids = features.Select(f => table.Features[f].Categorical
                ? [.. Enumerable.Range(0, table.Features[f].Levels!.Length).Select(l => (float)l)]
                : DependenceSample.Quantiles(values[f], spec.Grid)).ToArray();
            // A feature with one value in the sample has no curve to draw: a second point one unit above keeps the grid a line.
            grids = [.. grids.Select(g => g.Length > 1 ? g : [g[0], g[0] + 1])];
            var ice = sample.Index.Take(spec.Ice).Order().ToArray();
            var work = new DependenceWork(features, grids, values, ice, spec.Logit, spec.Repeats, spec.PermutationSeed);
            _plan = (job, work);
            return work;
        }

        /// <summary>The <paramref name="top"/> features by the job's first method's mean |attribution| (ties in the table's order).</summary>
        private static int[] Top(TableSpec table, int top, JobSpec job, Tabular.FeatureImportanceFeature.Sums? importance)
        {
            var first = job.Methods.Select(m => importance?.Methods.FirstOrDefault(x => x.Method == m.Name)).FirstOrDefault(x => x is { Count: > 0 });
            var order = Enumerable.Range(0, table.Features.Length);
            if (first is not null) order = order.OrderByDescending(f => first.AbsSum[f] / first.Count).ThenBy(f => f);
            return [.. order.Take(top)];
        }

        public void AddPost(PostPartial post)
        {
            if (post.Dependence is { } bytes) _posts[post.ShardIndex] = DecodePost(bytes);
        }

        public override object? Summarise(SummaryDraft draft) =>
            _plan is { } plan && _posts.Count > 0 ? DependenceSummaries.Of(plan.Job, plan.Work, _sample!, [.. _posts.Values], draft) : null;
    }
}
