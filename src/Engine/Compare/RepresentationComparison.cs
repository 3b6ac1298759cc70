using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
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
    /// The CKA sums of samples [<paramref name="start"/>, start + count) with the layers they are of; or no sums and why there
    /// are none, when the models or inputs cannot be read that way.
    /// </summary>
    public async Task<(CkaSums? Sums, RepresentationChange Layers)> SumsAsync(RunOutputs a, RunOutputs b, long start, long count, CancellationToken ct = default)
    {
        try
        {
            if (Spec(a) is not { } ja || Spec(b) is not { } jb)
                return (null, RepresentationChange.None("a run's model or inputs are named with a redacted credential, so they cannot be read again"));
            return await CkaAsync(ja, jb, start, count, ct);
        }
        catch (ExplainException e)
        {
            return (null, RepresentationChange.None(e.Message));
        }
    }

    private async Task<(CkaSums?, RepresentationChange)> CkaAsync(JobSpec ja, JobSpec jb, long start, long count, CancellationToken ct)
    {
        var (ma, mb) = (await host.GetModelAsync(ja.Model.Uri, ct), await host.GetModelAsync(jb.Model.Uri, ct));
        var (la, lb) = await host.RunAsync(() => (ma.ChildBeforeLastLinear(), mb.ChildBeforeLastLinear()));
        if (la is null || lb is null) return (null, RepresentationChange.None("a model has no top-level Linear whose input is its embedding"));
        var (da, db) = (await Dataset.OpenAsync(ja, locator, ct), await Dataset.OpenAsync(jb, locator, ct));
        CkaSums? total = null;
        for (var from = start; from < start + count; from += Block)
        {
            var block = new ShardSpec(0, from, Math.Min(Block, start + count - from));
            var (xa, xb) = (await da.ReadAsync(block, ct), await db.ReadAsync(block, ct));
            var sums = await host.RunAsync(() => Sums(ma, la, ja, xa, mb, lb, jb, xb, jb.BatchSize));
            if (sums.Sx.Length > MaxFeatures || sums.Sy.Length > MaxFeatures)
                return (null, RepresentationChange.None($"the embedding layers give {sums.Sx.Length} and {sums.Sy.Length} features; CKA takes at most {MaxFeatures}"));
            total = CkaSums.Fold(total, sums);
        }
        return (total, new RepresentationChange(la, lb, 0, 0, 0, null, null));
    }

    /// <summary>A block's sums: both models' features at their layers, in batches of <paramref name="batchSize"/>. On a model-host thread.</summary>
    public static CkaSums Sums(ExplainModel ma, string la, JobSpec ja, ShardData xa, ExplainModel mb, string lb, JobSpec jb, ShardData xb, int batchSize)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor? sx = null, sy = null, sxx = null, syy = null, sxy = null;
        for (var start = 0; start < xa.Count; start += batchSize)
        {
            var count = Math.Min(batchSize, xa.Count - start);
            var (x, y) = (Features(ma, la, ja, xa, start, count), Features(mb, lb, jb, xb, start, count));
            (sx, sy) = (Plus(sx, x.sum(0L)), Plus(sy, y.sum(0L)));
            (sxx, syy, sxy) = (Plus(sxx, x.t().mm(x)), Plus(syy, y.t().mm(y)), Plus(sxy, x.t().mm(y)));
        }
        return new CkaSums(xa.Count, Doubles(sx!), Doubles(sy!), Doubles(sxx!), Doubles(syy!), Doubles(sxy!));
    }

    /// <summary>Rows [start, start + count) of a block as the model's features at <paramref name="layer"/>, [count, features] float64 on the CPU.</summary>
    public static Tensor Features(ExplainModel model, string layer, JobSpec job, ShardData data, int start, int count)
    {
        using var scope = NewDisposeScope();
        var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
        var sample = data.SampleShape.Aggregate(1, (p, d) => p * d);
        using var raw = tensor(data.Raw.AsSpan(start * sample, count * sample).ToArray(), [count, .. data.SampleShape.Select(d => (long)d)]);
        var capture = new ActivationCapture([layer], "compare: the embedding layer");
        capture.Complete(model, model.PrepareInput(preprocess.Apply(raw)));
        return ModelTaps.Rows(capture[layer], layer).to(float64).cpu().MoveToOuterDisposeScope();
    }

    private static Tensor Plus(Tensor? total, Tensor part) => total is null ? part : total.add_(part);

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
