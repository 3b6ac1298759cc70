using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Engine.Views;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Compare;

/// <summary>
/// How far A's and B's models represent the same inputs alike: linear CKA between their features at the embedding layer
/// (each model's input of its last top-level Linear, as the embedding view takes it), both models run on the same samples,
/// each with its own run's preprocessing. A range of samples (a shard of the compare pass) goes in blocks of <see cref="Block"/>;
/// each block's <see cref="CkaSums"/> is made on a model-host thread and the blocks fold in order (<see cref="ComparePart"/>).
/// </summary>
public sealed class RepresentationComparison(ModelHost host, BlobLocator locator)
{
    /// <summary>Samples per block of sums.</summary>
    public const int Block = 256;

    /// <summary>Features per model at most (their Σxxᵀ is features² doubles), as the embedding view's.</summary>
    public const int MaxFeatures = ShardViews.MaxEmbeddingFeatures;

    /// <summary>
    /// The CKA sums of samples [<paramref name="start"/>, start + count) with the layers they are of, or no sums and why there
    /// are none, when the models or inputs cannot be read that way; and, given the range's <paramref name="labels"/>, the
    /// per-class activation sums of every layer both models share with the same output shape (<see cref="LayerDrift"/>).
    /// </summary>
    /// <param name="both">Per sample of the range, whether both runs explained it (null: every one); the others are left out, as
    /// are samples either run's inputs cannot read now.</param>
    public async Task<(CkaSums? Sums, RepresentationChange Layers, LayerDrift[] Drift)> SumsAsync(RunOutputs a, RunOutputs b, long start, long count,
        int[]? labels = null, bool[]? both = null, CancellationToken ct = default)
    {
        try
        {
            if (Spec(a) is not { } ja || Spec(b) is not { } jb)
                return (null, RepresentationChange.None("a run's model or inputs are named with a redacted credential, so they cannot be read again"), []);
            return await CkaAsync(ja, jb, start, count, labels, both, a.Summary.Classes.Length, ct);
        }
        catch (ExplainException e)
        {
            return (null, RepresentationChange.None(e.Message), []);
        }
    }

    private async Task<(CkaSums?, RepresentationChange, LayerDrift[])> CkaAsync(JobSpec ja, JobSpec jb, long start, long count, int[]? labels, bool[]? both,
        int classes, CancellationToken ct)
    {
        var (ma, mb) = (await host.GetModelAsync(ja.Model.Uri, ct), await host.GetModelAsync(jb.Model.Uri, ct));
        var (la, lb) = await host.RunAsync(() => (ma.ChildBeforeLastLinear(), mb.ChildBeforeLastLinear()));
        var layers = la is null || lb is null ? RepresentationChange.None("a model has no top-level Linear whose input is its embedding") : new RepresentationChange(la, lb, 0, 0, 0, null, null);
        var (da, db) = (await Dataset.OpenAsync(ja, locator, ct), await Dataset.OpenAsync(jb, locator, ct));
        CkaSums? total = null;
        Dictionary<string, LayerDrift>? drift = null;
        string[]? shared = null; // found on the range's first block
        for (var from = start; from < start + count; from += Block)
        {
            var block = new ShardSpec(0, from, Math.Min(Block, start + count - from));
            var (xa, xb) = (await da.ReadAsync(block, ct), await db.ReadAsync(block, ct));
            var blockLabels = labels?.AsMemory((int)(from - start), (int)block.Count);
            if (both is not null || xa.Kept is not null || xb.Kept is not null)
            {
                // Only the samples both runs explained and both inputs still read, as the same rows of either side.
                long[] common = [.. Enumerable.Range(0, (int)block.Count).Select(i => from + i)
                    .Where(i => (both?[i - start] ?? true) && xa.RowOf(i) >= 0 && xb.RowOf(i) >= 0)];
                if (common.Length == 0) continue;
                (xa, xb) = (Only(xa, common), Only(xb, common));
                blockLabels = labels is null ? null : common.Select(i => labels[i - start]).ToArray();
            }
            var (sums, drifts) = await host.RunAsync(() =>
            {
                shared ??= blockLabels is null ? [] : SharedLayers(ma, ja, xa, mb, jb, xb);
                return Sums(ma, layers.Missing is null ? la : null, ja, xa, mb, lb, jb, xb, jb.BatchSize, shared, blockLabels, classes);
            });
            if (sums is not null && (sums.Sx.Length > MaxFeatures || sums.Sy.Length > MaxFeatures))
            {
                layers = RepresentationChange.None($"the embedding layers give {sums.Sx.Length} and {sums.Sy.Length} features; CKA takes at most {MaxFeatures}");
                (sums, total) = (null, null);
            }
            if (sums is not null) total = CkaSums.Fold(total, sums);
            if (drift is null) drift = drifts.ToDictionary(d => d.Layer, StringComparer.Ordinal);
            else foreach (var d in drifts) if (drift.TryGetValue(d.Layer, out var sum)) LayerDrift.Fold(sum, d);
        }
        return (layers.Missing is null ? total : null, layers, drift is null ? [] : [.. drift.Values]);
    }

    /// <summary>The activations view's default layers both models have, by name, whose outputs have the same shape on a sample. On a model-host thread.</summary>
    private static string[] SharedLayers(ExplainModel ma, JobSpec ja, ShardData xa, ExplainModel mb, JobSpec jb, ShardData xb)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (probeA, probeB) = (Input(ma, ja, xa, 0, 1), Input(mb, jb, xb, 0, 1));
        var named = ModelTaps.DefaultActivations(ma, () => probeA).Intersect(ModelTaps.DefaultActivations(mb, () => probeB), StringComparer.Ordinal).ToArray();
        if (named.Length == 0) return [];
        var (ta, tb) = (Taps(ma, named, probeA), Taps(mb, named, probeB));
        return [.. named.Where(l => ta[l].shape.Skip(1).SequenceEqual(tb[l].shape.Skip(1)))];
    }

    /// <summary>A block's CKA sums (both models' features at their layers; none without <paramref name="la"/>), in batches of <paramref name="batchSize"/>. On a model-host thread.</summary>
    public static CkaSums Sums(ExplainModel ma, string la, JobSpec ja, ShardData xa, ExplainModel mb, string lb, JobSpec jb, ShardData xb, int batchSize) =>
        Sums(ma, la, ja, xa, mb, lb, jb, xb, batchSize, [], null, 0).Cka!;

    /// <summary>
    /// A block's CKA sums (none without <paramref name="la"/>) and the per-class activation sums at each of <paramref name="shared"/>
    /// (given the block's <paramref name="labels"/>), from one forward of each model per batch of <paramref name="batchSize"/>. On a model-host thread.
    /// </summary>
    private static (CkaSums? Cka, LayerDrift[] Drift) Sums(ExplainModel ma, string? la, JobSpec ja, ShardData xa, ExplainModel mb, string? lb, JobSpec jb, ShardData xb,
        int batchSize, string[] shared, ReadOnlyMemory<int>? labels, int classes)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor? sx = null, sy = null, sxx = null, syy = null, sxy = null;
        LayerDrift[]? drift = null;
        string[] layersA = [.. la is null ? [] : new[] { la }, .. shared.Where(l => l != la)], layersB = [.. lb is null ? [] : new[] { lb }, .. shared.Where(l => l != lb)];
        for (var start = 0; start < xa.Count; start += batchSize)
        {
            using var batch = NewDisposeScope();
            var count = Math.Min(batchSize, xa.Count - start);
            var (ta, tb) = (Taps(ma, layersA, Input(ma, ja, xa, start, count)), Taps(mb, layersB, Input(mb, jb, xb, start, count)));
            if (la is not null && lb is not null)
            {
                var (x, y) = (ModelTaps.Rows(ta[la], la).to(float64), ModelTaps.Rows(tb[lb], lb).to(float64));
                (sx, sy) = (Keep(sx, x.sum(0L)), Keep(sy, y.sum(0L)));
                (sxx, syy, sxy) = (Keep(sxx, x.t().mm(x)), Keep(syy, y.t().mm(y)), Keep(sxy, x.t().mm(y)));
            }
            if (labels is { } l && shared.Length > 0)
            {
                drift ??= [.. shared.Select(layer => new LayerDrift(layer, (int)ta[layer].shape[1], classes))]; // dim 1 is the channels (ChannelMeans)
                foreach (var d in drift) d.Add(LayerDrift.ChannelMeans(ta[d.Layer]), LayerDrift.ChannelMeans(tb[d.Layer]), l.Span.Slice(start, count));
            }
        }
        var cka = sx is null ? null : new CkaSums(xa.Count, Doubles(sx), Doubles(sy!), Doubles(sxx!), Doubles(syy!), Doubles(sxy!));
        return (cka, drift ?? []);
    }

    /// <summary>The rows of <paramref name="data"/> that are dataset indices <paramref name="indices"/> (ascending, every one held).</summary>
    private static ShardData Only(ShardData data, long[] indices)
    {
        var sample = data.SampleShape.Aggregate(1, (p, d) => p * d);
        var raw = new float[indices.Length * sample];
        for (var r = 0; r < indices.Length; r++) data.Raw.AsSpan(data.RowOf(indices[r]) * sample, sample).CopyTo(raw.AsSpan(r * sample));
        return new ShardData(indices[0], indices.Length, raw, null, data.SampleShape, Kept: indices);
    }

    /// <summary>Rows [start, start + count) of a block as the model takes them: its run's preprocessing applied, on its device.</summary>
    private static Tensor Input(ExplainModel model, JobSpec job, ShardData data, int start, int count)
    {
        var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
        var sample = data.SampleShape.Aggregate(1, (p, d) => p * d);
        using var raw = tensor(data.Raw.AsSpan(start * sample, count * sample).ToArray(), [count, .. data.SampleShape.Select(d => (long)d)]);
        return model.PrepareInput(preprocess.Apply(raw));
    }

    /// <summary>The model's outputs at <paramref name="layers"/> for <paramref name="input"/>, from one pass.</summary>
    private static Dictionary<string, Tensor> Taps(ExplainModel model, string[] layers, Tensor input)
    {
        var capture = new ActivationCapture(layers, "compare: the embedding and shared layers");
        capture.Complete(model, input);
        return layers.ToDictionary(l => l, l => capture[l], StringComparer.Ordinal);
    }

    /// <summary>The running sum <paramref name="total"/> (null at first) plus <paramref name="part"/>, kept out of the batch's dispose scope.</summary>
    private static Tensor Keep(Tensor? total, Tensor part)
    {
        var sum = total is null ? part.clone() : total.Accumulate(part); // rooted alpha (Scalars)
        return total is null ? sum.MoveToOuterDisposeScope() : sum;
    }

    /// <summary>Rows [start, start + count) of a block as the model's features at <paramref name="layer"/>, [count, features] float64 on the CPU.</summary>
    public static Tensor Features(ExplainModel model, string layer, JobSpec job, ShardData data, int start, int count)
    {
        using var scope = NewDisposeScope();
        return ModelTaps.Rows(Taps(model, [layer], Input(model, job, data, start, count))[layer], layer).to(float64).cpu().MoveToOuterDisposeScope();
    }

    private static double[] Doubles(Tensor t) => t.contiguous().data<double>().ToArray();

    /// <summary>The run's job as its manifest keeps it, at the locations it read; null when a location was redacted.</summary>
    private static JobSpec? Spec(RunOutputs run)
    {
        var m = run.Manifest;
        if (m.Model.Contains(Redaction.Marker, StringComparison.Ordinal) || m.Inputs.Contains(Redaction.Marker, StringComparison.Ordinal)) return null;
        var job = JobFile.Parse(m.JobFile.GetRawText(), Path.GetTempPath(), outputOverride: Path.GetTempPath());
        return job with { Model = job.Model with { Uri = m.Model }, Data = job.Data with { Inputs = m.Inputs, Labels = null } };
    }
}

/// <summary>Linear CKA between A's and B's features at their embedding layers, over every sample; or why there is none.</summary>
/// <param name="LinearCka">1: the same representation up to rotation and isotropic scaling; near 0: unrelated.</param>
/// <param name="Missing">Why no CKA was computed; null when it was.</param>
public sealed record RepresentationChange(string? LayerA, string? LayerB, int FeaturesA, int FeaturesB, long Samples, double? LinearCka, string? Missing)
{
    public static RepresentationChange None(string why) => new(null, null, 0, 0, 0, null, why);
}
