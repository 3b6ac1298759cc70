namespace ExplainCluster.Engine.Report;

/// <summary>How to read a method's maps: what they show, and their sign and scale (what a high value means).</summary>
public sealed record MethodReading(string Shows, string Read);

/// <summary>The reading of each method the registry knows, by its name in job files; a method not listed here gets a plain default.</summary>
public static class MethodGuide
{
    private static readonly Dictionary<string, MethodReading> Readings = new(StringComparer.Ordinal)
    {
        ["saliency"] = new("The absolute gradient of the explained class's logit with respect to each input value: where a small change of the input would move the output most.",
            "Unsigned (|gradient|): high means sensitive, not necessarily important; it says nothing about the direction of the effect, and gradients are noisy and saturate."),
        ["grad-x-input"] = new("The gradient times the (preprocessed) input: a first-order estimate of each input value's contribution to the logit.",
            "Signed: positive values push towards the explained class, negative away from it; inputs at zero after preprocessing get zero whatever their role."),
        ["grad-cam"] = new("Grad-CAM at the chosen layer: that layer's channels weighted by their mean gradient, summed, and clipped at zero.",
            "Non-negative, at the layer's resolution (coarse; upsampled over the pixels): high means the region's features support the explained class. It cannot show what argues against it."),
        ["grad-cam-plus-plus"] = new("Grad-CAM++ at the chosen layer: channels weighted by their positive gradients, each position's share set by the gradient's second and third powers (Chattopadhyay et al.), summed, clipped at zero.",
            "Non-negative, at the layer's resolution: as Grad-CAM, but several instances of a class each get their share instead of the largest one taking it all."),
        ["hires-cam"] = new("HiResCAM at the chosen layer: each position's activations times their gradient there, summed over channels, clipped at zero.",
            "Non-negative, at the layer's resolution: the part of the logit the layer's positions contribute in a first-order sense; unlike Grad-CAM it does not average the gradient over space."),
        ["xgrad-cam"] = new("XGrad-CAM at the chosen layer: channels weighted by their gradient averaged with the activations as weights, summed, clipped at zero.",
            "Non-negative, at the layer's resolution: high means the region's features support the explained class; close to Grad-CAM when gradients are uniform over space."),
        ["layer-cam"] = new("LayerCAM at the chosen layer: each position's activations times their positive gradient, summed over channels, clipped at zero.",
            "Non-negative, at the layer's resolution, with finer detail than Grad-CAM at earlier layers: high means the activation there pushes towards the explained class."),
        ["grad-cam-element-wise"] = new("Element-wise Grad-CAM at the chosen layer: activation times gradient per position and channel, clipped at zero, then summed.",
            "Non-negative, at the layer's resolution: only contributions that support the explained class count; counter-evidence is dropped before the sum."),
        ["eigen-cam"] = new("Eigen-CAM at the chosen layer: the activations' first principal component over positions. It uses no gradients and ignores the explained class.",
            "Non-negative, at the layer's resolution: where the layer's dominant pattern is strong, the same whatever class is explained; the sign is chosen so that the stronger extreme is positive."),
        ["eigen-grad-cam"] = new("EigenGrad-CAM at the chosen layer: the first principal component over positions of the activations times their gradients.",
            "Non-negative, at the layer's resolution: the dominant pattern of the class's first-order contributions; sign chosen so that the stronger extreme is positive."),
        ["score-cam"] = new("Score-CAM at the chosen layer: each channel, upsampled and scaled to [0, 1], masks the input; the explained logit on each masked input, softmaxed over channels, weighs the channels.",
            "Non-negative, at the layer's resolution: high means the region, kept alone, raises the explained logit. Uses no gradients, so it does not saturate; costs one forward per channel."),
        ["ablation-cam"] = new("Ablation-CAM at the chosen layer: each channel is switched off in turn and the explained logit's relative drop weighs it.",
            "Non-negative, at the layer's resolution: high means the features there are what the logit loses most without. Uses no gradients; costs one forward of the model's rest per channel."),
        ["occlusion"] = new("Occlusion: a window slides over the input; each input gets the mean drop of the explained logit when a window covering it is replaced by the baseline.",
            "Signed, in logit units, blurred to the window's size: positive means hiding the region lowers the explained class's logit. Depends on the window, the stride and the baseline."),
        ["input"] = new("The input itself, as the model takes it: a control that ignores the model.",
            "A reference only: a method whose maps look like this one shows the input's edges rather than the model's reasons, which the sanity check is there to catch."),
        ["integrated-gradients"] = new("Integrated gradients: the gradients averaged along the straight path from a baseline to the input, times (input − baseline).",
            "Signed: positive supports the explained class; the values sum to the logit's change from the baseline (the delta column says how closely). Depends on the baseline chosen."),
        ["smooth-grad"] = new("SmoothGrad: the wrapped method averaged over noisy copies of the input (or their squares, or their variance).",
            "As the wrapped method (signed unless squared or a variance), with the noise averaged out; high means consistently important under small perturbations."),
        ["lime"] = new("LIME: a weighted linear model fitted to the model's output on random on/off combinations of image segments; each pixel gets its segment's weight.",
            "Signed, per segment: positive segments raise the explained output. Only as good as the segmentation and the fit (the lime_r2 column); random, seeded per sample."),
        ["kernel-shap"] = new("KernelSHAP: Shapley values of the image segments, estimated from coalitions sampled by the Shapley kernel; each pixel gets its segment's value.",
            "Signed, per segment, in units of the explained output: the values sum to f(x) − f(baseline) (the delta column). Depends on the segmentation and the hiding baseline."),
        ["permutation-shap"] = new("Permutation SHAP: Shapley values of the image segments, estimated by switching segments on along random orders (and back, antithetically); each pixel gets its segment's value.",
            "Signed, per segment, in units of the explained output: the values sum to f(x) − f(all segments hidden). Depends on the segmentation and the hiding baseline."),
        ["attention-rollout"] = new("Attention rollout: the attention of the class token to each image patch, multiplied through the transformer's layers.",
            "Non-negative, at the patch grid's resolution: high means the class token drew much from that patch. Attention is not attribution: it ignores the values and the MLPs."),
        ["param-grads"] = new("Per-sample gradient norms of the loss with respect to each layer's parameters: how much each sample would move the model.",
            "Norms (non-negative), per layer, not over pixels: large means a hard, atypical or mislabelled sample; see the global views."),
        ["param-grads-projected"] = new("Each sample's whole parameter gradient projected to a few dimensions by a seeded random sketch.",
            "Coordinates for comparing samples' gradients (influence-style similarity); not an image."),
    };

    /// <summary>The reading of a method run over a table's features (one value per column), where it differs from the image's.</summary>
    private static readonly Dictionary<string, MethodReading> TableReadings = new(StringComparer.Ordinal)
    {
        ["saliency"] = new("The absolute gradient of the explained class's logit with respect to each feature as the model receives it (standardized; a one-hot feature's levels summed): how sensitive the decision is to a small change of the feature.",
            "Unsigned: high means sensitive, not necessarily important (a feature far from its typical value can matter more than its gradient says); it says nothing about the direction."),
        ["grad-x-input"] = new("The gradient times the feature as the model receives it (standardized, or its one-hot levels): a first-order estimate of each feature's contribution to the logit, against a row at the training mean.",
            "Signed: positive pushes towards the explained class, negative away from it. A feature at its training mean gets zero whatever its role."),
        ["integrated-gradients"] = new("Integrated gradients from the all-zero vector (every numeric feature at its training mean, no level of any categorical) to the row.",
            "Signed, in logit units: positive supports the explained class; the values sum to the logit's change from that baseline row (the delta column says how closely)."),
        ["smooth-grad"] = new("SmoothGrad: the wrapped method averaged over noisy copies of the row (noise on the standardized features).",
            "As the wrapped method, with the noise averaged out; high means consistently important under small perturbations."),
        ["kernel-shap"] = new("KernelSHAP: each feature's Shapley value, estimated from coalitions of features sampled by the Shapley kernel; a feature left out takes its value from each background row in turn (SHAP's independent masker).",
            "Signed, in units of the explained output (the logit unless the job says otherwise): the values sum to f(row) minus the mean of f over the background rows (the delta column). Exact when every coalition fits in the budget."),
        ["permutation-shap"] = new("Permutation SHAP: each feature's Shapley value, estimated by switching features on along random orders (and back, antithetically), the others taking background rows' values.",
            "Signed, in units of the explained output: the values sum to f(row) minus the mean of f over the background rows. More permutations, less noise."),
        ["lime"] = new("LIME, as the lime package's tabular explainer: a weighted linear model fitted to the model's output on perturbed rows, each feature either kept in the row's quartile bin (or level) or not.",
            "Signed: positive means being in the row's bin raises the explained output. Only as good as the fit (the lime_r2 column); random, seeded per row."),
    };

    public static MethodReading For(string method) => Readings.GetValueOrDefault(method)
        ?? new($"The maps method {method} wrote.", "See the method's documentation in the README for its sign and scale.");

    /// <summary>The reading of a method that explained a table's rows: per feature, not per pixel.</summary>
    public static MethodReading ForTable(string method) => TableReadings.GetValueOrDefault(method) ?? For(method);
}
