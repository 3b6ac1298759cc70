using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Integrated gradients (Sundararajan et al. 2017, as Captum): (x − x′) · ∫₀¹ ∂y_t/∂x(x′ + α(x − x′)) dα by
/// <see cref="Quadrature"/>. Steps × rows are chunked to the batch's row budget, so a large model at a large
/// batch does not hold every step's activations at once. Column <c>integrated_gradients_delta</c> is Captum's
/// convergence delta, Σ attribution − (y_t(x) − y_t(x′)).
/// </summary>
public sealed class IntegratedGradients(int steps, string rule, Baseline baseline, int? maxRows) : IAttributionMethod, IInputAttribution
{
    public const string MethodName = "integrated-gradients";

    public string Name => MethodName;

    public bool DifferentiatesInput => true;

    public bool UsesSharedGradients => false;

    public IReadOnlyList<string> Columns { get; } = ["integrated_gradients_delta"];

    public MethodOutput Attribute(MethodBatch batch)
    {
        var x = batch.Input;
        var reference = baseline.For(x);
        var attribution = Integrate(batch, x, reference, batch.Targets);
        var rows = RowBudget(batch);
        var fx = batch.Shared.Logits.gather(1, batch.Targets.unsqueeze(1)).squeeze(1);
        var fb = TargetGradients.Outputs(batch.Model, reference, batch.Targets, rows);
        var delta = attribution.flatten(1).sum(1) - (fx - fb);
        return new MethodOutput(attribution, [delta]);
    }

    public Tensor AttributeAt(MethodBatch batch, Tensor x, Tensor targets) => Integrate(batch, x, baseline.For(x), targets);

    private Tensor Integrate(MethodBatch batch, Tensor x, Tensor reference, Tensor targets)
    {
        var (alphas, weights) = Quadrature.Nodes(rule, steps);
        var n = x.shape[0];
        var rows = RowBudget(batch);
        // Tensor sums pass the rooted Scalars.One as their alpha: a temporary one can be freed mid-call (Scalars).
        var diff = x.add(reference.neg(), Scalars.One);
        var total = zeros_like(x);
        // [1, k, 1, ...]: broadcast a step's α (or weight) over a sample's dimensions.
        long[] StepShape(int k) => [1, k, .. Enumerable.Repeat(1L, (int)x.dim() - 1)];
        var perChunk = (int)Math.Max(1, rows / n);
        for (var first = 0; first < steps; first += perChunk)
        {
            var k = Math.Min(perChunk, steps - first);
            using var chunk = NewDisposeScope(); // a chunk's points and gradients go with it; total accumulates in place
            var alpha = tensor(alphas.AsSpan(first, k).ToArray().Select(a => (float)a).ToArray(), device: x.device).view(StepShape(k));
            var weight = tensor(weights.AsSpan(first, k).ToArray().Select(w => (float)w).ToArray(), device: x.device).view(StepShape(k));
            var points = reference.unsqueeze(1).add(alpha * diff.unsqueeze(1), Scalars.One).flatten(0, 1);
            var grads = TargetGradients.Compute(batch.Model, points, targets.repeat_interleave(k), rows).Grad;
            total.add_((grads.view([n, k, .. x.shape.Skip(1)]) * weight).sum(1), Scalars.One); // in place: total outlives the chunk
        }
        return diff * total;
    }

    private int RowBudget(MethodBatch batch) => maxRows ?? batch.MaxRows;
}
