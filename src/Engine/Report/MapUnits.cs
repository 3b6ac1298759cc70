using System.Text.Json;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// What a method's map values are measured in, written under its colour bar: read from the method's options where they
/// change it (lime and kernel-shap explain a probability or a logit; smooth-grad averages another method).
/// </summary>
public static class MapUnits
{
    private static readonly Dictionary<string, Func<JsonElement?, string>> Units = new(StringComparer.Ordinal)
    {
        ["saliency"] = _ => "|∂logit/∂input|",
        ["grad-x-input"] = _ => "logit units",
        [IntegratedGradients.MethodName] = _ => "logit units",
        ["grad-cam"] = _ => "Grad-CAM units",
        [GradCamPlusPlus.MethodName] = _ => "Grad-CAM++ units",
        [HiResCam.MethodName] = _ => "gradient × activation units",
        [XGradCam.MethodName] = _ => "XGrad-CAM units",
        [LayerCam.MethodName] = _ => "gradient × activation units",
        [GradCamElementWise.MethodName] = _ => "gradient × activation units",
        [EigenCam.MethodName] = _ => "activation units (first component)",
        [EigenGradCam.MethodName] = _ => "gradient × activation units (first component)",
        [ScoreCam.MethodName] = _ => "activation units (softmax-weighted)",
        [AblationCam.MethodName] = _ => "activation units (weighted by the logit's relative drop)",
        [Occlusion.MethodName] = _ => "logit units",
        [InputMap.MethodName] = _ => "input units",
        [AttentionRollout.MethodName] = _ => "attention share",
        [Lime.MethodName] = o => Text(o, "explain", "probability") + " units",
        [KernelShap.MethodName] = o => Text(o, "explain", "logit") + " units",
        [SmoothGrad.MethodName] = o => Text(o, "type", "smoothgrad") == "smoothgrad" && Text(o, "of", "saliency") != "saliency" ? "logit units" : "gradient units",
    };

    /// <summary>The units of <paramref name="method"/>'s maps, given the job file the manifest keeps; "attribution" for a method not listed here.</summary>
    public static string Of(string method, JsonElement jobFile)
    {
        JsonElement? options = jobFile.ValueKind == JsonValueKind.Object && jobFile.TryGetProperty("methods", out var methods)
            && methods.ValueKind == JsonValueKind.Object && methods.TryGetProperty(method, out var o) && o.ValueKind == JsonValueKind.Object ? o : null;
        return Units.TryGetValue(method, out var units) ? units(options) : "attribution";
    }

    private static string Text(JsonElement? options, string field, string fallback) =>
        options is { } o && o.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;
}
