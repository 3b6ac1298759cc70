using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>One objective's maximisation.</summary>
/// <param name="Shape">The input's shape [C, H, W] (or whatever the model takes per sample).</param>
/// <param name="Input">The final input in the model's input space, row-major over <paramref name="Shape"/>.</param>
/// <param name="Trajectory">The objective without penalties at every step, as the step saw it (its jittered input): [steps].</param>
/// <param name="Value">The objective at the final input, unjittered.</param>
/// <param name="Probabilities">The model's softmax at the final input: [classes].</param>
public sealed record MaximisationResult(Objective Objective, int[] Shape, float[] Input, float[] Trajectory, float Value, float[] Probabilities)
{
    /// <summary>The final softmax probability of the objective's class; null for a channel objective.</summary>
    public float? Probability => Objective is ClassObjective c ? Probabilities[c.Class] : null;
}

/// <summary>
/// Activation maximisation (Olah et al. 2017, "Feature Visualization"): the input that raises an objective, by
/// regularised gradient ascent from a seeded normal start. Each step takes the gradient of
/// y(jitter(x)) − l2·‖x‖² − tv·TV(x) with respect to x alone (the model's parameters need no gradients), moves x
/// (Adam or plain ascent), blurs it every <c>blurEvery</c> steps and clamps it to the input bounds if given.
/// Each objective draws its start and shifts from its own generator seeded by (seed, objective), so its result does
/// not depend on which silo runs it or which other objectives exist. Run one at a time (the default), a result is
/// bit-identical wherever it is computed on the same build and device. Batched (one row per objective, one batch per
/// layer) is faster, but libtorch's kernels round differently for another batch size: a row agrees with its run
/// alone to ~1e-7 after a step, and the difference grows over the ascent (to ~0.1 of a pixel value after 256 steps).
/// </summary>
public static class ActivationMaximisation
{
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Epsilon = 1e-8;

    /// <summary>Adam's factors, rooted (Scalars): a temporary Scalar can be freed while libtorch reads it, and these run every step.</summary>
    private static readonly Scalar Beta1Factor = Beta1.ToScalar(), Beta1Rest = (1 - Beta1).ToScalar(), Beta2Factor = Beta2.ToScalar(), Beta2Rest = (1 - Beta2).ToScalar();

    public static MaximisationResult Run(ExplainModel model, int[] inputShape, Objective objective, MaximisationOptions options, InputBounds? bounds = null) =>
        Run(model, inputShape, [objective], options, bounds)[0];

    /// <summary>Every objective, in order: one at a time, or those of one layer (or the class logits) as one batch.</summary>
    /// <param name="inputShape">One sample's shape in the model's input space, [C, H, W] for images.</param>
    /// <param name="batched">Rows of one batch: faster, equal to the runs alone only up to rounding (see the class summary).</param>
    public static IReadOnlyList<MaximisationResult> Run(
        ExplainModel model, int[] inputShape, IReadOnlyList<Objective> objectives, MaximisationOptions options, InputBounds? bounds = null, bool batched = false)
    {
        var image = inputShape.Length == 3;
        if (!image && (options.Jitter > 0 || options.Tv > 0 || options.BlurEvery > 0))
            throw new ExplainException(
                $"{MaximisationOptions.Prefix.TrimEnd('.')}: jitter, tv and blurEvery need image inputs [C, H, W]; set them to 0 for input shape [{string.Join(", ", inputShape)}]");
        if (bounds is not null && (inputShape.Length == 0 || bounds.Low.Length != inputShape[0] || bounds.High.Length != inputShape[0]))
            throw new ExplainException($"{MaximisationOptions.Prefix.TrimEnd('.')}: input bounds need one low and high per channel ({(inputShape.Length == 0 ? 1 : inputShape[0])})");
        if (!batched) return [.. objectives.Select(o => RunBatch(model, inputShape, [o], options, bounds)[0])];
        var results = new MaximisationResult[objectives.Count];
        foreach (var group in objectives.Select((o, i) => (Objective: o, At: i)).GroupBy(p => p.Objective.Layer))
        {
            var rows = group.ToArray();
            var made = RunBatch(model, inputShape, [.. rows.Select(r => r.Objective)], options, bounds);
            for (var i = 0; i < rows.Length; i++) results[rows[i].At] = made[i];
        }
        return results;
    }

    /// <summary>Objectives of one layer (or all class logits) as the rows of one batch.</summary>
    private static MaximisationResult[] RunBatch(ExplainModel model, int[] inputShape, Objective[] objectives, MaximisationOptions options, InputBounds? bounds)
    {
        using var scope = NewDisposeScope();
        var n = objectives.Length;
        var device = model.Device;
        var split = objectives[0].Layer is { } layer ? model.Split(layer) : null;
        long[] sampleShape = [.. inputShape.Select(d => (long)d)];
        var (x, shifts) = Starts(objectives, sampleShape, options);
        x = x.to(device);
        shifts = shifts?.to(device);
        var targets = tensor(objectives.Select(o => (long)(o is ClassObjective c ? c.Class : ((ChannelObjective)o).Channel)).ToArray(), device: device);
        var largest = objectives.Max(o => o is ClassObjective c ? c.Class : ((ChannelObjective)o).Channel);
        if (split is not null) model.VerifySplit(split, model.PrepareInput(x.narrow(0, 0, 1)));
        long[] perChannel = [1, sampleShape.Length == 0 ? 1 : sampleShape[0], .. Enumerable.Repeat(1L, Math.Max(0, sampleShape.Length - 1))];
        var low = bounds is null ? null : tensor(bounds.Low, device: device).view(perChannel);
        var high = bounds is null ? null : tensor(bounds.High, device: device).view(perChannel);
        var m = zeros_like(x);
        var v = zeros_like(x);
        var trajectory = zeros([options.Steps, n], device: device);
        using var rate = options.LearningRate.ToScalar(); // held through the steps (Scalars)
        for (var t = 0; t < options.Steps; t++)
        {
            using var step = NewDisposeScope();
            Tensor grad;
            using (enable_grad())
            {
                var xi = x.detach().requires_grad_(true);
                var seen = shifts is null ? xi : ImageTransforms.Roll(xi, shifts[t, .., 0], shifts[t, .., 1]);
                var value = Value(model, split, model.PrepareInput(seen), targets, largest);
                var score = value;
                if (options.L2 > 0) score = score - xi.Squared().flatten(1).sum(1).Times(options.L2);
                if (options.Tv > 0) score = score - ImageTransforms.TotalVariation(xi).Times(options.Tv);
                grad = Gradients.Of("the objective", [score.sum()], [xi])[0];
                trajectory[t].copy_(value.detach());
            }
            using var noGrad = no_grad();
            if (options.Optimiser == "sgd")
            {
                x.add_(grad, alpha: rate);
            }
            else
            {
                m.mul_(Beta1Factor).add_(grad, alpha: Beta1Rest);
                v.mul_(Beta2Factor).addcmul_(grad, grad, value: Beta2Rest);
                var mHat = m.DividedBy(1 - Math.Pow(Beta1, t + 1));
                var vHat = v.DividedBy(1 - Math.Pow(Beta2, t + 1));
                x.add_(mHat / vHat.sqrt().Plus(Epsilon), alpha: rate);
            }
            if (options.BlurEvery > 0 && (t + 1) % options.BlurEvery == 0 && t + 1 < options.Steps) x.copy_(ImageTransforms.Blur(x, options.BlurSigma));
            if (low is not null) x.copy_(x.maximum(low).minimum(high!));
        }
        return Results(model, split, objectives, inputShape, x, targets, largest, trajectory);
    }

    /// <summary>Each row's start x₀ ~ N(0, init²) and its shifts [steps, 2], from one CPU generator per row: [n, …] and [steps, n, 2] (null without jitter).</summary>
    private static (Tensor Start, Tensor? Shifts) Starts(Objective[] objectives, long[] sampleShape, MaximisationOptions options)
    {
        var starts = new Tensor[objectives.Length];
        var shifts = new Tensor[objectives.Length];
        for (var i = 0; i < objectives.Length; i++)
        {
            using var generator = new Generator(objectives[i].StartSeed(options.Seed), CPU);
            starts[i] = randn(sampleShape, generator: generator).Times(options.Init);
            if (options.Jitter > 0) shifts[i] = randint(-options.Jitter, options.Jitter + 1, [options.Steps, 2], generator: generator);
        }
        return (stack(starts, 0), options.Jitter > 0 ? stack(shifts, 1) : null);
    }

    /// <summary>Each row's objective [n]: its class logit, or its channel's mean activation at the split layer.</summary>
    private static Tensor Value(ExplainModel model, ILayerSplit? split, Tensor input, Tensor targets, int largest)
    {
        if (split is null)
        {
            var logits = model.Forward(input);
            if (largest >= logits.shape[1])
                throw new ExplainException($"{MaximisationOptions.Prefix.TrimEnd('.')}: class {largest} is beyond the model's {logits.shape[1]} classes");
            return logits.gather(1, targets.unsqueeze(1)).squeeze(1);
        }
        var features = model.Invoke(input, () => split.Features(input));
        if (features.dim() < 2 || largest >= features.shape[1])
            throw new ExplainException(
                $"{MaximisationOptions.Prefix.TrimEnd('.')}: channel {largest} is beyond layer \"{split.Layer}\"'s output [{string.Join(", ", features.shape.Skip(1))}]");
        var flat = features.dim() == 2 ? features.unsqueeze(2) : features.flatten(2);
        var n = flat.shape[0];
        return flat.gather(1, targets.view(n, 1, 1).expand(n, 1, flat.shape[2])).mean([1, 2]);
    }

    private static MaximisationResult[] Results(
        ExplainModel model, ILayerSplit? split, Objective[] objectives, int[] inputShape, Tensor x, Tensor targets, int largest, Tensor trajectory)
    {
        using var noGrad = no_grad();
        var input = model.PrepareInput(x);
        var value = Value(model, split, input, targets, largest).cpu().data<float>().ToArray();
        var probabilities = nn.functional.softmax(model.Forward(input), 1).cpu();
        var classes = (int)probabilities.shape[1];
        var p = probabilities.data<float>().ToArray();
        var inputs = x.contiguous().cpu().data<float>().ToArray();
        var steps = (int)trajectory.shape[0];
        var values = trajectory.t().contiguous().cpu().data<float>().ToArray();
        var size = inputs.Length / objectives.Length;
        return [.. objectives.Select((o, i) => new MaximisationResult(
            o, inputShape, inputs[(i * size)..((i + 1) * size)], values[(i * steps)..((i + 1) * steps)], value[i], p[(i * classes)..((i + 1) * classes)]))];
    }
}
