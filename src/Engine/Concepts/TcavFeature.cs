using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Concepts;

/// <summary>
/// A shard's TCAV counts: samples per target class, and per CAV (<see cref="ConceptVectors"/>' rows) and class the samples whose
/// directional derivative is positive; with what every shard shares (the layer, concepts, runs, examples and the CAVs' accuracies).
/// </summary>
/// <param name="Positives">[CAVs, classes] row-major.</param>
/// <param name="Alpha">The job's significance level (<c>concepts.alpha</c>).</param>
public sealed record TcavPartial(string Layer, string[] Concepts, int Runs, int Examples, double Alpha, double[] Accuracy, long[] ClassCounts, long[] Positives,
    ConceptSetRecord[] Sets);

/// <summary>
/// TCAV (Kim et al. 2018) per target class: for each concept and run the score (the fraction of the class's samples whose target logit
/// rises along the concept's CAV), its mean and spread over the runs, and a two-sided t-test against the random-vs-random CAVs' scores.
/// summary.json's <c>concepts</c>. Counts fold by addition in shard order, so the section is the same however the job was sharded.
/// </summary>
public sealed class TcavFeature : Feature<TcavPartial, TcavFeature.Sums>
{
    public static readonly TcavFeature Instance = new();

    public const string Classifier = "L2-regularised logistic regression (lambda 0.01, unregularised bias), solved exactly by Newton's method on the examples' Gram matrix";

    public const string Test = "Student's two-sample t-test (pooled variance), two-sided, against the random-vs-random CAVs' scores; Bonferroni over the concepts of each class";

    public override string Name => "concepts";

    public override string Section => "concepts";

    public override TcavPartial? Compute(ShardOutcome s) => s.Result.Tcav is { } t ? Partial(t, s.Result.Targets, s.Result.Classes) : null;

    /// <summary>The counts of a shard's signs by target class.</summary>
    public static TcavPartial Partial(TcavResult result, long[] targets, int classes)
    {
        var v = result.Vectors;
        var counts = new long[classes];
        var positives = new long[v.Count * classes];
        for (var i = 0; i < targets.Length; i++)
        {
            counts[targets[i]]++;
            for (var k = 0; k < v.Count; k++) positives[k * classes + targets[i]] += result.Positive[i * v.Count + k];
        }
        return new TcavPartial(v.Layer, v.Concepts, v.Runs, v.Examples, result.Alpha, v.Accuracy, counts, positives, v.Sets);
    }

    public override void Write(BinaryWriter w, TcavPartial p)
    {
        w.Write(p.Layer);
        w.Write(p.Concepts.Length);
        foreach (var c in p.Concepts) w.Write(c);
        w.Write(p.Runs);
        w.Write(p.Examples);
        w.Write(p.Alpha);
        WriteArray(w, p.Accuracy);
        WriteArray(w, p.ClassCounts);
        WriteArray(w, p.Positives);
        ConceptVectors.WriteSets(w, p.Sets);
    }

    public override TcavPartial Read(BinaryReader r)
    {
        var layer = r.ReadString();
        var concepts = new string[r.ReadInt32()];
        for (var c = 0; c < concepts.Length; c++) concepts[c] = r.ReadString();
        return new TcavPartial(layer, concepts, r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), ReadArray<double>(r), ReadArray<long>(r), ReadArray<long>(r),
            ConceptVectors.ReadSets(r));
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(TcavFeature feature) : FeatureSums<TcavPartial>(feature.Decode)
    {
        private TcavPartial? _total;

        public override void Fold(TcavPartial partial)
        {
            if (_total is null)
            {
                _total = partial with { ClassCounts = [.. partial.ClassCounts], Positives = [.. partial.Positives] };
                return;
            }
            if (partial.Layer != _total.Layer || !partial.Concepts.SequenceEqual(_total.Concepts) || partial.Runs != _total.Runs || partial.Alpha != _total.Alpha
                || !partial.Accuracy.SequenceEqual(_total.Accuracy) || partial.Positives.Length != _total.Positives.Length || !partial.Sets.SequenceEqual(_total.Sets))
                throw new ArgumentException("TCAV partials of different concept vectors", nameof(partial));
            Totals.Add(_total.ClassCounts, partial.ClassCounts);
            Totals.Add(_total.Positives, partial.Positives);
        }

        public override object? Summarise(SummaryDraft draft) => _total is null ? null : Summary(_total, draft.Names);
    }

    /// <summary>summary.json's <c>concepts</c> from the folded counts.</summary>
    public static TcavSummary Summary(TcavPartial total, string[] classNames)
    {
        var alpha = total.Alpha;
        var (concepts, runs, classes) = (total.Concepts.Length, total.Runs, total.ClassCounts.Length);
        var corrected = alpha / concepts;
        double[] Scores(int set, int c) => [.. Enumerable.Range(0, runs).Select(r => (double)total.Positives[(set * runs + r) * classes + c] / total.ClassCounts[c])];
        var perClass = Enumerable.Range(0, classes).Where(c => total.ClassCounts[c] > 0).Select(c =>
        {
            var random = Scores(concepts, c);
            return new TcavClass(c, classNames[c], total.ClassCounts[c], Of(random), [.. Enumerable.Range(0, concepts).Select(k =>
            {
                var scores = Scores(k, c);
                var (t, p) = StudentT.Test(scores, random);
                var (mean, sd) = MeanSd(scores);
                return new TcavConcept(total.Concepts[k], scores, mean, sd, t, p, p < corrected);
            })]);
        }).ToArray();
        var accuracy = Enumerable.Range(0, concepts + 1).Select(set => new TcavAccuracy(set < concepts ? total.Concepts[set] : "random",
            Enumerable.Range(0, runs).Average(r => total.Accuracy[set * runs + r]))).ToArray();
        return new TcavSummary(total.Layer, total.Concepts, runs, total.Examples, Classifier, Test, alpha, corrected, accuracy, perClass, total.Sets);
    }

    private static TcavScores Of(double[] scores) => MeanSd(scores) is var (mean, sd) ? new TcavScores(scores, mean, sd) : null!;

    private static (double Mean, double Sd) MeanSd(double[] values)
    {
        var mean = values.Average();
        return (mean, Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1)));
    }
}

/// <summary>
/// summary.json's <c>concepts</c>: TCAV at <see cref="Layer"/> with <see cref="Runs"/> CAVs per concept, each trained on
/// <see cref="Examples"/> examples per side; the CAVs' mean accuracy on their training examples per concept (and for the random
/// pairs); per target class with samples the random-vs-random scores and each concept's scores with the t-test.
/// <see cref="CorrectedAlpha"/> is <see cref="Alpha"/> over the concepts' count: a concept is significant for a class when p &lt; it.
/// </summary>
/// <param name="Sets">Each set's examples and the SHA-256 of their values, concepts then random (<see cref="ConceptSetRecord"/>).</param>
public sealed record TcavSummary(string Layer, string[] Concepts, int Runs, int Examples, string Classifier, string Test, double Alpha,
    double CorrectedAlpha, TcavAccuracy[] Accuracy, TcavClass[] Classes, ConceptSetRecord[] Sets);

public sealed record TcavAccuracy(string Concept, double Mean);

/// <param name="N">The class's samples (by target).</param>
public sealed record TcavClass(int Class, string Name, long N, TcavScores Random, TcavConcept[] Concepts);

public sealed record TcavScores(double[] Scores, double Mean, double Sd);

/// <param name="Scores">The TCAV score of each run: the fraction of the class's samples with a positive directional derivative.</param>
/// <param name="T">Null when infinite (neither side varies over the runs, and their means differ).</param>
public sealed record TcavConcept(string Concept, double[] Scores, double Mean, double Sd, double? T, double P, bool Significant);

/// <summary>summary.json's <c>concepts</c>, read as its record.</summary>
public static class SummaryTcav
{
    extension(Summary summary)
    {
        /// <summary>Null when the job had no concepts block.</summary>
        public TcavSummary? Concepts => summary.Section<TcavSummary>(TcavFeature.Instance.Section);
    }
}
