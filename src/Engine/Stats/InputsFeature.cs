using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Output;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// The inputs' sums over a shard: the sample shape, the sample count per target class (dense) and Σ scaled input
/// per class with samples (rows in class order).
/// </summary>
public sealed record InputPartial(int[] Shape, long[] ClassCounts, double[] ClassSums);

/// <summary>The mean scaled input per target class (for overlays): summary.json's <c>inputs</c>.</summary>
public sealed class InputsFeature : Feature<InputPartial, InputsFeature.Sums>
{
    public static readonly InputsFeature Instance = new();

    public override string Name => "inputs";

    public override string Section => "inputs";

    public override InputPartial Compute(ShardOutcome s)
    {
        // Grouped by the same target class as every method, so one count serves them all.
        var (r, data) = (s.Result, s.Data);
        var classRows = Contracts.ShardPartial.ClassRows(s.TargetCounts);
        var row = new int[r.Classes];
        for (var k = 0; k < classRows.Length; k++) row[classRows[k]] = k;
        var sampleElements = data.SampleShape.Aggregate(1, (a, b) => a * b);
        var sums = new double[(long)classRows.Length * sampleElements];
        for (var i = 0; i < r.Count; i++)
        {
            var k = row[r.Targets[i]];
            var raw = data.Raw.AsSpan(i * sampleElements, sampleElements);
            var sum = sums.AsSpan(k * sampleElements, sampleElements);
            for (var j = 0; j < raw.Length; j++) sum[j] += raw[j] * s.Scale;
        }
        return new InputPartial(data.SampleShape, s.TargetCounts, sums);
    }

    public override void Write(BinaryWriter w, InputPartial p)
    {
        WriteArray(w, p.Shape);
        WriteArray(w, p.ClassCounts);
        WriteArray(w, p.ClassSums);
    }

    public override InputPartial Read(BinaryReader r) => new(ReadArray<int>(r), ReadArray<long>(r), ReadArray<double>(r));

    public override Sums NewSums(int classes) => new(this, classes);

    public sealed class Sums(InputsFeature feature, int classes) : FeatureSums<InputPartial>(feature.Decode)
    {
        private int[] _shape = [];
        private readonly long[] _counts = new long[classes];
        private ClassSums? _sums;

        public override void Fold(InputPartial p)
        {
            if (_sums is null) (_shape, _sums) = (p.Shape, new ClassSums(classes, p.Shape.Aggregate(1, (a, b) => a * b)));
            Totals.Add(_counts, p.ClassCounts);
            _sums.Add(p.ClassCounts, p.ClassSums);
        }

        public override object? Summarise(SummaryDraft draft)
        {
            var file = OutputLayout.SummaryArray("input-class-means");
            draft.Arrays.Add(ClassTables.ClassMeans(file, _shape, _counts, _sums!));
            return new InputSummary(_shape, file, ClassTables.Rows(_counts, draft.Names));
        }
    }
}
