using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// One forward and one backward pass shared by every gradient method in a job: the gradient of each
/// sample's target logit with respect to the input and, when a layer is split, to that layer's output.
/// Samples are independent in eval mode, so the gradient of Σᵢ yᵢ,tᵢ gives every sample its own gradient.
/// </summary>
public sealed class GradientBatch
{
    private GradientBatch(Tensor input, Tensor logits, Tensor targets, Tensor? inputGrad, Tensor? features, Tensor? featureGrad)
    {
        Input = input;
        Logits = logits;
        Targets = targets;
        InputGrad = inputGrad;
        Features = features;
        FeatureGrad = featureGrad;
    }

    public Tensor Input { get; }

    /// <summary>[n, classes], detached.</summary>
    public Tensor Logits { get; }

    /// <summary>[n] int64: the class each sample is explained for.</summary>
    public Tensor Targets { get; }

    /// <summary>∂y_target/∂x, shaped as the input; null when no method needs gradients.</summary>
    public Tensor? InputGrad { get; }

    /// <summary>The split layer's activations A, detached.</summary>
    public Tensor? Features { get; }

    /// <summary>∂y_target/∂A.</summary>
    public Tensor? FeatureGrad { get; }

    /// <param name="labels">Targets when the job explains the label; null to explain the prediction.</param>
    /// <summary>The rows at <paramref name="rows"/> (int64 positions on the batch's device).</summary>
    public GradientBatch Select(Tensor rows) => new(
        Input.index_select(0, rows), Logits.index_select(0, rows), Targets.index_select(0, rows),
        InputGrad?.index_select(0, rows), Features?.index_select(0, rows), FeatureGrad?.index_select(0, rows));

    /// <param name="capture">Layers whose outputs the pass also keeps (the <c>activations</c> view); the pass then runs child by child.</param>
    public static GradientBatch Compute(ExplainModel model, Tensor input, Tensor? labels, ILayerSplit? split, bool needGradients,
        Views.ActivationCapture? capture = null)
    {
        capture?.Clear();
        // With a capture, the forward runs as a chain of children: the split's if it is one, else the top-level children.
        var chain = capture?.NeedsChildren(model) != true ? null : split as ChildSplit ?? (split is null ? capture.TopLevel(model, input) : null);
        if (!needGradients)
        {
            using var noGrad = no_grad();
            var logits = chain is null ? model.Forward(input)
                : model.Invoke(input, () => chain.Run(chain.Run(input, head: false, capture!.Record), head: true, capture!.Record));
            capture?.Complete(model, input);
            return new GradientBatch(input, logits, labels ?? logits.argmax(1), null, null, null);
        }
        using var grad = enable_grad();
        var x = input.detach().requires_grad_(true);
        Tensor? features = null;
        Tensor output;
        if (split is null && chain is not null)
        {
            output = model.Invoke(x, () => chain.Run(x, head: false, capture!.Record));
        }
        else if (split is null)
        {
            output = model.Forward(x);
        }
        else
        {
            model.VerifySplit(split, input.narrow(0, 0, 1));
            (features, output) = model.Invoke(x, () =>
            {
                var f = chain is null ? split.Features(x) : chain.Run(x, head: false, capture!.Record);
                if (chain is null && split.Layer == Views.ModelTaps.Features) capture?.Record(split.Layer, f); // the timm split is the tap
                return (f, chain is null ? split.Head(f) : chain.Run(f, head: true, capture!.Record));
            });
        }
        capture?.Complete(model, input);
        var targets = labels ?? output.detach().argmax(1);
        var selected = output.gather(1, targets.unsqueeze(1)).sum();
        var wrt = features is null ? new[] { x } : new[] { x, features };
        var grads = Gradients.Of("the selected outputs", [selected], wrt, allowUnused: true);
        var inputGrad = grads[0] ?? zeros_like(x);
        return new GradientBatch(input, output.detach(), targets, inputGrad, features?.detach(), features is null ? null : grads[1]);
    }
}
