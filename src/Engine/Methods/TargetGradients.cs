using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// The gradient pass the methods with their own passes share: ∂y_target/∂x for every row of x, at most
/// <c>maxRows</c> rows per forward/backward. Rows are independent in eval mode, so the gradient of Σᵢ yᵢ,tᵢ
/// gives every row its own gradient.
/// </summary>
public static class TargetGradients
{
    /// <returns>The gradients, shaped as <paramref name="x"/>, and each row's target output y_t [m] (detached).</returns>
    public static (Tensor Grad, Tensor Output) Compute(ExplainModel model, Tensor x, Tensor targets, int maxRows)
    {
        var rows = x.shape[0];
        if (rows <= maxRows) return Chunk(model, x, targets);
        var grads = new List<Tensor>();
        var outputs = new List<Tensor>();
        for (long start = 0; start < rows; start += maxRows)
        {
            var count = Math.Min(maxRows, rows - start);
            var (g, o) = Chunk(model, x.narrow(0, start, count), targets.narrow(0, start, count));
            grads.Add(g);
            outputs.Add(o);
        }
        return (cat(grads, 0), cat(outputs, 0));
    }

    /// <summary>Each row's target output y_t [m], no gradients (baselines, perturbations), in chunks of <paramref name="maxRows"/>.</summary>
    public static Tensor Outputs(ExplainModel model, Tensor x, Tensor targets, int maxRows) =>
        Outputs(model, x.shape[0], (start, count) => x.narrow(0, start, count), targets, maxRows);

    /// <summary>
    /// Each row's target output for <paramref name="rows"/> rows that <paramref name="make"/>(start, count) builds a
    /// chunk at a time, so a large perturbation set never exists at once; each chunk's tensors are freed with it.
    /// </summary>
    /// <param name="probability">The target's softmax probability instead of its logit.</param>
    /// <param name="forward">What turns a chunk into logits when it is not the model's input (a layer's ablated activations through the head); the model's forward when null.</param>
    public static Tensor Outputs(ExplainModel model, long rows, Func<long, long, Tensor> make, Tensor targets, int maxRows, bool probability = false,
        Func<Tensor, Tensor>? forward = null)
    {
        using var noGrad = no_grad();
        var outputs = new List<Tensor>();
        for (long start = 0; start < rows; start += maxRows)
        {
            using var chunk = NewDisposeScope();
            var count = Math.Min(maxRows, rows - start);
            var logits = forward is null ? model.Forward(model.PrepareInput(make(start, count))) : forward(make(start, count));
            var scores = probability ? nn.functional.softmax(logits, 1) : logits;
            outputs.Add(scores.gather(1, targets.narrow(0, start, count).unsqueeze(1)).squeeze(1).MoveToOuterDisposeScope());
        }
        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }

    /// <summary>
    /// One forward/backward in a dispose scope of its own: the graph (every activation of the chunk) goes when
    /// the chunk ends, not with the caller's batch, so a method's k chunks never hold k graphs at once.
    /// </summary>
    private static (Tensor Grad, Tensor Output) Chunk(ExplainModel model, Tensor x, Tensor targets)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var input = model.PrepareInput(x).detach().requires_grad_(true);
        var selected = model.Forward(input).gather(1, targets.unsqueeze(1)).squeeze(1);
        var g = Gradients.Of("the selected outputs", [selected.sum()], [input], allowUnused: true)[0] ?? zeros_like(input);
        return (g.MoveToOuterDisposeScope(), selected.detach().MoveToOuterDisposeScope());
    }
}
