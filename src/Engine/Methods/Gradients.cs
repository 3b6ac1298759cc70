using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// <c>autograd.grad</c> with its one precondition checked first. TorchSharp 0.107 does not catch libtorch's error for an output
/// that has no gradient function ("element 0 of tensors does not require grad"), and the uncaught C++ exception ends the
/// process: a silo with every job on it, or the test run. Here it is an exception that names the call.
/// </summary>
public static class Gradients
{
    /// <summary>The gradients of <paramref name="outputs"/> with respect to <paramref name="inputs"/>, as <c>autograd.grad</c> gives them.</summary>
    /// <param name="what">What is differentiated, for the error: "the selected logits", "the loss".</param>
    public static IList<Tensor> Of(string what, IList<Tensor> outputs, IList<Tensor> inputs, IList<Tensor>? gradOutputs = null, bool allowUnused = false)
    {
        for (var i = 0; i < outputs.Count; i++)
            if (!outputs[i].requires_grad)
                throw new InvalidOperationException(
                    $"{what} do not depend on what they are differentiated with respect to (no gradient function; gradients {(is_grad_enabled() ? "enabled" : "disabled")} on this thread)");
        return autograd.grad(outputs, inputs, gradOutputs, allow_unused: allowUnused);
    }
}
