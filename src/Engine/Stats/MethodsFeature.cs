using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Output;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// Every method's maps over the job: Σ map per target class and Σ |map|, giving summary.json's <c>methods</c> (mean
/// |attribution|, the mean map per class) and the arrays beside it. The shard's sums are made with the per-sample
/// columns in one pass (<see cref="ShardStatistics"/>).
/// </summary>
public sealed class MethodsFeature : Feature<MethodPartial[], MethodsFeature.Sums>
{
    public static readonly MethodsFeature Instance = new();

    public override string Name => "methods";

    public override string Section => "methods";

    public override MethodPartial[] Compute(ShardOutcome s) => s.Methods;

    public override void Write(BinaryWriter w, MethodPartial[] methods)
    {
        w.Write(methods.Length);
        foreach (var m in methods)
        {
            w.Write(m.Method);
            WriteArray(w, m.MapShape);
            WriteArray(w, m.ClassCounts);
            WriteArray(w, m.ClassSum);
            WriteArray(w, m.AbsSum);
        }
    }

    public override MethodPartial[] Read(BinaryReader r)
    {
        var methods = new MethodPartial[r.ReadInt32()];
        for (var i = 0; i < methods.Length; i++)
            methods[i] = new MethodPartial(r.ReadString(), ReadArray<int>(r), ReadArray<long>(r), ReadArray<double>(r), ReadArray<double>(r));
        return methods;
    }

    public override Sums NewSums(int classes) => new(this, classes);

    public sealed class Sums(MethodsFeature feature, int classes) : FeatureSums<MethodPartial[]>(feature.Decode)
    {
        private List<MethodSums>? _methods;

        /// <summary>A method's mean |map| (Σ |map| / samples), or null when it did not run or explained no sample.</summary>
        public double[]? MeanAbs(string method) =>
            _methods?.FirstOrDefault(m => m.Name == method) is { } m && m.Counts.Sum() > 0 ? Array.ConvertAll(m.AbsSums, v => v / m.Counts.Sum()) : null;

        public override void Fold(MethodPartial[] partial)
        {
            // The first shard names the methods; every shard has a partial for each of them.
            _methods ??= [.. partial.Select(m => new MethodSums(m.Method, classes))];
            foreach (var entry in _methods)
            {
                var m = partial.Single(x => x.Method == entry.Name);
                // A shard where a method's subset took no sample brings no map shape: the first that does sets it.
                if (m.ClassCounts.Sum() == 0) continue;
                entry.Add(m);
            }
        }

        public override object? Summarise(SummaryDraft draft)
        {
            var methods = new Dictionary<string, MethodSummary>(StringComparer.Ordinal);
            foreach (var (name, mapShape, counts, sums, absSums) in _methods ?? [])
            {
                var total = counts.Sum();
                if (total == 0)
                {
                    // A method whose subset took no sample of this job: it says so, and has no maps.
                    methods[name] = new MethodSummary(mapShape, 0, null, null, [], 0);
                    continue;
                }
                var meanAbsMap = Array.ConvertAll(absSums, v => v / total);
                var meanAbsFile = OutputLayout.SummaryArray($"{name}-mean-abs");
                var classFile = OutputLayout.SummaryArray($"{name}-class-means");
                draft.Arrays.Add(new SummaryArray(meanAbsFile, [.. mapShape.Select(d => (long)d)], Array.ConvertAll(meanAbsMap, v => (float)v)));
                draft.Arrays.Add(ClassTables.ClassMeans(classFile, mapShape, counts, sums));
                methods[name] = new MethodSummary(mapShape, meanAbsMap.Average(), meanAbsFile, classFile, ClassTables.Rows(counts, draft.Names), total);
            }
            return methods;
        }
    }

    /// <summary>One method's running sums; its map shape comes with the first partial that has samples of it.</summary>
    private sealed class MethodSums(string name, int classes)
    {
        public string Name => name;

        public int[] MapShape { get; private set; } = [];

        public long[] Counts { get; } = new long[classes];

        public ClassSums Sums { get; private set; } = new(classes, 0);

        public double[] AbsSums { get; private set; } = [];

        public void Add(MethodPartial m)
        {
            if (AbsSums.Length == 0) (MapShape, Sums, AbsSums) = (m.MapShape, new ClassSums(classes, m.AbsSum.Length), new double[m.AbsSum.Length]);
            Totals.Add(Counts, m.ClassCounts);
            Sums.Add(m.ClassCounts, m.ClassSum);
            Totals.Add(AbsSums, m.AbsSum);
        }

        public void Deconstruct(out string n, out int[] shape, out long[] counts, out ClassSums sums, out double[] absSums) =>
            (n, shape, counts, sums, absSums) = (Name, MapShape, Counts, Sums, AbsSums);
    }
}
