using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Compare;

/// <summary>
/// What one range of samples contributes to a comparison of two runs: counts of predictions and flips, each method's
/// per-sample agreement and importance sums, the paired faithfulness differences, and the representation's CKA sums. Parts
/// fold in sample order (<see cref="Fold"/>) into the whole comparison's part, which <see cref="Comparer.BuildAsync"/> reads.
/// The ranges are fixed (<see cref="Ranges"/>), whatever either run's sharding: the job's compare pass makes one part per
/// range on its silos, <c>explain compare</c> every part in one process, and both fold the same parts in the same order, so
/// a comparison is the same bit for bit however it was spread. Per-sample agreement values travel as they are (24 bytes a
/// sample and method), so the median and percentiles are exact.
/// </summary>
public sealed class ComparePart
{
    private ComparePart(int classes)
    {
        K = classes;
        Flips = new long[classes * classes];
        (SupportA, OkA, SupportB, OkB, PredictedA, PredictedB, ClassWrong, ClassRight) =
            (new long[classes], new long[classes], new long[classes], new long[classes], new long[classes], new long[classes], new long[classes], new long[classes]);
    }

    /// <summary>Samples per range.</summary>
    public const int Range = 4096;

    /// <summary>The ranges a comparison of runs of <paramref name="samples"/> samples is made of, in order.</summary>
    public static ShardSpec[] Ranges(long samples) => Jobs.Dataset.Plan(samples, Range);

    /// <summary>Classes (the baseline's).</summary>
    public int K { get; }

    /// <summary>Labelled samples of A and B, and how many of them each got right.</summary>
    public long LabelledA { get; private set; }

    public long RightA { get; private set; }

    public long LabelledB { get; private set; }

    public long RightB { get; private set; }

    /// <summary>Same inputs only: labelled samples A got right and B wrong, the reverse, and samples whose prediction changed.</summary>
    public long BecameWrong { get; private set; }

    public long BecameRight { get; private set; }

    public long Changed { get; private set; }

    /// <summary>[A's prediction × K + B's prediction] (same inputs only).</summary>
    public long[] Flips { get; }

    public long[] SupportA { get; }

    public long[] OkA { get; }

    public long[] SupportB { get; }

    public long[] OkB { get; }

    public long[] PredictedA { get; }

    public long[] PredictedB { get; }

    /// <summary>Per class (A's label): samples that became wrong, and that became right (same inputs only).</summary>
    public long[] ClassWrong { get; }

    public long[] ClassRight { get; }

    /// <summary>Per method both runs have over pixels (same inputs only), in ordinal order.</summary>
    public List<MethodPart> Methods { get; } = [];

    /// <summary>Per method with faithfulness columns in both runs (same inputs only), in ordinal order.</summary>
    public List<TrustPart> Trust { get; } = [];

    /// <summary>Per layer both models share with the same output shape, the per-class activation sums (with a model host), in ordinal order.</summary>
    public List<LayerDrift> Drift { get; } = [];

    /// <summary>The CKA sums of the two models' embedding features, when a model host computed them.</summary>
    public CkaSums? Cka { get; private set; }

    /// <summary>The embedding layers the CKA sums are of, or why there are none (<see cref="RepresentationChange.None"/>).</summary>
    public RepresentationChange? Representation { get; private set; }

    /// <summary>
    /// The methods a comparison of <paramref name="a"/> and <paramref name="b"/> compares map by map: both stored them over pixels, in
    /// the same shape (<c>maps</c>: a run that stored none, or at another resolution or channels, has none to compare).
    /// </summary>
    public static string[] MapMethods(RunOutputs a, RunOutputs b) => !a.StoresMaps || !b.StoresMaps ? [] :
        [.. a.Summary.Methods.Keys.Where(m => b.Summary.Methods.ContainsKey(m) && a.StoredShape(m) is { Length: >= 2 } shape && shape.SequenceEqual(b.StoredShape(m)))
            .Order(StringComparer.Ordinal)];

    /// <summary>
    /// The part of samples [<paramref name="start"/>, start + count) of B. With the same inputs both runs' rows are read; without,
    /// only B's predictions are counted (A's come from <see cref="BaselineOnlyAsync"/>).
    /// </summary>
    /// <param name="representation">Computes the CKA sums of the range, when the comparison has a model host.</param>
    public static async Task<ComparePart> ComputeAsync(RunOutputs a, RunOutputs b, bool same, long start, long count,
        RepresentationComparison? representation = null, CancellationToken ct = default)
    {
        var part = new ComparePart(a.Summary.Classes.Length);
        var (predB, labelB) = await b.PredictionsAsync(start, count, ct);
        if (!same)
        {
            part.CountB(predB, labelB);
            return part;
        }
        var (predA, labelA) = await a.PredictionsAsync(start, count, ct);
        // A sample either run skipped (prediction −1) counts in neither: the paired figures are over the samples both explained.
        for (var i = 0; i < predA.Length; i++)
            if (predA[i] < 0 || predB[i] < 0) (predA[i], labelA[i], predB[i], labelB[i]) = (-1, -1, -1, -1);
        part.CountB(predB, labelB);
        part.CountA(predA, labelA);
        part.CountPaired(predA, labelA, predB);
        foreach (var method in MapMethods(a, b)) part.Methods.Add(await MethodPart.ComputeAsync(method, a, b, start, count, labelA, part.K, ct));
        foreach (var method in TrustComparison.PairedMethods(a, b))
            if (await TrustPart.ComputeAsync(method, a, b, start, count, ct) is { } trust) part.Trust.Add(trust);
        if (representation is not null)
        {
            bool[]? both = a.Skipped + b.Skipped == 0 ? null : [.. predA.Select(p => p >= 0)];
            var (cka, layers, drift) = await representation.SumsAsync(a, b, start, count, labelA, both, ct);
            (part.Cka, part.Representation) = (cka, layers);
            part.Drift.AddRange(drift.OrderBy(d => d.Layer, StringComparer.Ordinal));
        }
        return part;
    }

    /// <summary>A's predictions counted over all its samples: the comparison of runs on different inputs.</summary>
    public static async Task<ComparePart> BaselineOnlyAsync(RunOutputs a, CancellationToken ct = default)
    {
        var part = new ComparePart(a.Summary.Classes.Length);
        var (predA, labelA) = await a.PredictionsAsync(ct);
        part.CountA(predA, labelA);
        return part;
    }

    private void CountA(int[] prediction, int[] label)
    {
        var (labelled, right) = Count(prediction, label, PredictedA, SupportA, OkA);
        (LabelledA, RightA) = (LabelledA + labelled, RightA + right);
    }

    private void CountB(int[] prediction, int[] label)
    {
        var (labelled, right) = Count(prediction, label, PredictedB, SupportB, OkB);
        (LabelledB, RightB) = (LabelledB + labelled, RightB + right);
    }

    /// <summary>One run's predictions per class, support and hits per label class; returns its labelled samples and hits.</summary>
    private (long Labelled, long Right) Count(int[] prediction, int[] label, long[] predicted, long[] support, long[] ok)
    {
        long labelled = 0, right = 0;
        for (var i = 0; i < label.Length; i++)
        {
            if ((uint)prediction[i] < K) predicted[prediction[i]]++;
            if (label[i] < 0) continue;
            labelled++;
            if (prediction[i] == label[i]) right++;
            if (label[i] >= K) continue;
            support[label[i]]++;
            if (prediction[i] == label[i]) ok[label[i]]++;
        }
        return (labelled, right);
    }

    private void CountPaired(int[] predA, int[] label, int[] predB)
    {
        for (var i = 0; i < predA.Length; i++)
        {
            if (predA[i] < 0) continue; // skipped by either run
            if ((uint)predA[i] < K && (uint)predB[i] < K) Flips[predA[i] * K + predB[i]]++;
            if (predA[i] != predB[i]) Changed++;
            if (label[i] < 0) continue;
            var d = (predB[i] == label[i] ? 1 : 0) - (predA[i] == label[i] ? 1 : 0);
            if (d < 0) BecameWrong++;
            if (d > 0) BecameRight++;
            if (label[i] >= K || d == 0) continue;
            if (d < 0) ClassWrong[label[i]]++;
            else ClassRight[label[i]]++;
        }
    }

    /// <summary><paramref name="total"/> (null before the first part) with <paramref name="part"/> added after it.</summary>
    public static ComparePart Fold(ComparePart? total, ComparePart part)
    {
        if (total is null) return part;
        if (total.K != part.K) throw new ArgumentException($"a comparison part of {part.K} classes folded into one of {total.K}");
        total.LabelledA += part.LabelledA;
        total.RightA += part.RightA;
        total.LabelledB += part.LabelledB;
        total.RightB += part.RightB;
        total.BecameWrong += part.BecameWrong;
        total.BecameRight += part.BecameRight;
        total.Changed += part.Changed;
        foreach (var (sum, add) in new[] { (total.Flips, part.Flips), (total.SupportA, part.SupportA), (total.OkA, part.OkA), (total.SupportB, part.SupportB),
                     (total.OkB, part.OkB), (total.PredictedA, part.PredictedA), (total.PredictedB, part.PredictedB), (total.ClassWrong, part.ClassWrong), (total.ClassRight, part.ClassRight) })
            Totals.Add(sum, add);
        Merge(total.Methods, part.Methods, m => m.Method, MethodPart.Fold);
        Merge(total.Trust, part.Trust, t => t.Method, TrustPart.Fold);
        Merge(total.Drift, part.Drift, d => d.Layer, LayerDrift.Fold);
        if (part.Cka is not null) total.Cka = CkaSums.Fold(total.Cka, part.Cka);
        total.Representation ??= part.Representation;
        return total;
    }

    /// <summary>Folds <paramref name="parts"/> into <paramref name="totals"/> by name; a name new to the totals joins them in ordinal order.</summary>
    private static void Merge<T>(List<T> totals, List<T> parts, Func<T, string> name, Action<T, T> fold)
    {
        foreach (var p in parts)
        {
            var at = totals.FindIndex(t => name(t) == name(p));
            if (at >= 0) fold(totals[at], p);
            else
            {
                totals.Add(p);
                totals.Sort((x, y) => string.CompareOrdinal(name(x), name(y)));
            }
        }
    }

    public byte[] Encode()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write(Version);
            w.Write(K);
            foreach (var v in new[] { LabelledA, RightA, LabelledB, RightB, BecameWrong, BecameRight, Changed }) w.Write(v);
            foreach (var array in new[] { Flips, SupportA, OkA, SupportB, OkB, PredictedA, PredictedB, ClassWrong, ClassRight }) PartialIO.Write(w, array);
            w.Write(Methods.Count);
            foreach (var m in Methods) m.Write(w);
            w.Write(Trust.Count);
            foreach (var t in Trust) t.Write(w);
            w.Write(Drift.Count);
            foreach (var d in Drift) d.Write(w);
            w.Write(Cka is not null);
            if (Cka is { } c)
            {
                w.Write(c.N);
                foreach (var array in new[] { c.Sx, c.Sy, c.Sxx, c.Syy, c.Sxy }) PartialIO.Write(w, array);
            }
            w.Write(Representation is not null);
            if (Representation is { } r)
            {
                w.Write(r.LayerA ?? "");
                w.Write(r.LayerB ?? "");
                w.Write(r.Missing ?? "");
            }
        }
        return stream.ToArray();
    }

    public static ComparePart Decode(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        if (r.ReadInt32() is var version && version != Version) throw new InvalidDataException($"a comparison part of version {version}, not {Version}");
        var part = new ComparePart(r.ReadInt32());
        (part.LabelledA, part.RightA, part.LabelledB, part.RightB) = (r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
        (part.BecameWrong, part.BecameRight, part.Changed) = (r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
        foreach (var array in new[] { part.Flips, part.SupportA, part.OkA, part.SupportB, part.OkB, part.PredictedA, part.PredictedB, part.ClassWrong, part.ClassRight })
            PartialIO.Read<long>(r).CopyTo(array, 0);
        for (var n = r.ReadInt32(); n > 0; n--) part.Methods.Add(MethodPart.Read(r));
        for (var n = r.ReadInt32(); n > 0; n--) part.Trust.Add(TrustPart.Read(r));
        for (var n = r.ReadInt32(); n > 0; n--) part.Drift.Add(LayerDrift.Read(r));
        if (r.ReadBoolean()) part.Cka = new CkaSums(r.ReadInt64(), PartialIO.Read<double>(r), PartialIO.Read<double>(r), PartialIO.Read<double>(r), PartialIO.Read<double>(r), PartialIO.Read<double>(r));
        if (r.ReadBoolean())
        {
            var (layerA, layerB, missing) = (r.ReadString(), r.ReadString(), r.ReadString());
            part.Representation = missing.Length > 0 ? RepresentationChange.None(missing) : new RepresentationChange(layerA, layerB, 0, 0, 0, null, null);
        }
        return part;
    }

    private const int Version = 2;
}

/// <summary>One method's part of a range: per sample (both maps present) its index, ρ and top-10 % IoU; the |map| sums; per-class sums.</summary>
public sealed class MethodPart
{
    private MethodPart(string method, int size, int classes) =>
        (Method, ImportanceA, ImportanceB, ClassN, ClassSpearman, ClassOverlap) = (method, new double[size], new double[size], new long[classes], new double[classes], new double[classes]);

    public string Method { get; }

    public double[] ImportanceA { get; }

    public double[] ImportanceB { get; }

    public List<long> Samples { get; } = [];

    public List<double> Spearman { get; } = [];

    public List<double> Overlap { get; } = [];

    public long[] ClassN { get; }

    public double[] ClassSpearman { get; }

    public double[] ClassOverlap { get; }

    public static async Task<MethodPart> ComputeAsync(string method, RunOutputs a, RunOutputs b, long start, long count, int[] label, int classes, CancellationToken ct)
    {
        var (mapsA, mapsB) = (await a.MapsAsync(method, start, count, ct), await b.MapsAsync(method, start, count, ct));
        var part = new MethodPart(method, mapsA.Size, classes);
        for (var i = start; i < start + count; i++)
        {
            if (await mapsA.RowAsync(i, ct) is not { } rowA || await mapsB.RowAsync(i, ct) is not { } rowB) continue;
            var va = rowA.Span;
            var vb = rowB.Span;
            for (var p = 0; p < va.Length; p++) { part.ImportanceA[p] += Math.Abs(va[p]); part.ImportanceB[p] += Math.Abs(vb[p]); }
            var (rho, iou) = (MapAgreement.Spearman(va, vb), MapAgreement.TopOverlap(va, vb));
            part.Samples.Add(i);
            part.Spearman.Add(rho);
            part.Overlap.Add(iou);
            var c = label[i - start];
            if ((uint)c < classes) { part.ClassN[c]++; part.ClassSpearman[c] += rho; part.ClassOverlap[c] += iou; }
        }
        return part;
    }

    public static void Fold(MethodPart total, MethodPart part)
    {
        Totals.Add(total.ImportanceA, part.ImportanceA);
        Totals.Add(total.ImportanceB, part.ImportanceB);
        Totals.Add(total.ClassN, part.ClassN);
        Totals.Add(total.ClassSpearman, part.ClassSpearman);
        Totals.Add(total.ClassOverlap, part.ClassOverlap);
        total.Samples.AddRange(part.Samples);
        total.Spearman.AddRange(part.Spearman);
        total.Overlap.AddRange(part.Overlap);
    }

    public void Write(BinaryWriter w)
    {
        w.Write(Method);
        w.Write(ClassN.Length);
        PartialIO.Write(w, ImportanceA);
        PartialIO.Write(w, ImportanceB);
        PartialIO.Write(w, [.. Samples]);
        PartialIO.Write(w, [.. Spearman]);
        PartialIO.Write(w, [.. Overlap]);
        PartialIO.Write(w, ClassN);
        PartialIO.Write(w, ClassSpearman);
        PartialIO.Write(w, ClassOverlap);
    }

    public static MethodPart Read(BinaryReader r)
    {
        var (method, classes) = (r.ReadString(), r.ReadInt32());
        var (importanceA, importanceB) = (PartialIO.Read<double>(r), PartialIO.Read<double>(r));
        var part = new MethodPart(method, importanceA.Length, classes);
        importanceA.CopyTo(part.ImportanceA, 0);
        importanceB.CopyTo(part.ImportanceB, 0);
        part.Samples.AddRange(PartialIO.Read<long>(r));
        part.Spearman.AddRange(PartialIO.Read<double>(r));
        part.Overlap.AddRange(PartialIO.Read<double>(r));
        PartialIO.Read<long>(r).CopyTo(part.ClassN, 0);
        PartialIO.Read<double>(r).CopyTo(part.ClassSpearman, 0);
        PartialIO.Read<double>(r).CopyTo(part.ClassOverlap, 0);
        return part;
    }
}

/// <summary>One method's paired faithfulness differences B − A over a range's samples both scored: n, Σd and Σd² of each AUC.</summary>
public sealed class TrustPart
{
    private TrustPart(string method) => Method = method;

    public string Method { get; }

    /// <summary>[n, Σd, Σd²] of the deletion AUC's and of the insertion AUC's per-sample differences.</summary>
    public double[] Deletion { get; private init; } = new double[3];

    public double[] Insertion { get; private init; } = new double[3];

    /// <summary>Null when a run lacks the method's per-sample AUC columns.</summary>
    public static async Task<TrustPart?> ComputeAsync(string method, RunOutputs a, RunOutputs b, long start, long count, CancellationToken ct)
    {
        var column = OutputLayout.Column(method);
        var part = new TrustPart(method);
        foreach (var (sums, name) in new[] { (part.Deletion, $"{column}_deletion_auc"), (part.Insertion, $"{column}_insertion_auc") })
        {
            if (await a.ColumnAsync(name, start, count, ct) is not { } va || await b.ColumnAsync(name, start, count, ct) is not { } vb) return null;
            for (var i = 0; i < va.Length; i++)
            {
                if (double.IsNaN(va[i]) || double.IsNaN(vb[i])) continue;
                var d = vb[i] - va[i];
                sums[0]++;
                sums[1] += d;
                sums[2] += d * d;
            }
        }
        return part;
    }

    public static void Fold(TrustPart total, TrustPart part)
    {
        Totals.Add(total.Deletion, part.Deletion);
        Totals.Add(total.Insertion, part.Insertion);
    }

    /// <summary>The mean differences with their intervals (an AUC is within [0, 1], so a difference within [−1, 1]).</summary>
    public FaithfulnessDelta Delta() => new(
        CompareStatistics.Paired((long)Deletion[0], Deletion[1], Deletion[2], -1, 1), CompareStatistics.Paired((long)Insertion[0], Insertion[1], Insertion[2], -1, 1), true);

    public void Write(BinaryWriter w)
    {
        w.Write(Method);
        PartialIO.Write(w, Deletion);
        PartialIO.Write(w, Insertion);
    }

    public static TrustPart Read(BinaryReader r) => new(r.ReadString()) { Deletion = PartialIO.Read<double>(r), Insertion = PartialIO.Read<double>(r) };
}
