using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Methods;

/// <summary>How a method is named in job files and made from its options (read strictly: unknown fields are errors).</summary>
public sealed record MethodDescriptor(string Name, Func<OptionsReader, IAttributionMethod> Create);

/// <summary>The methods a job may name. A new method is one more entry here and one small class.</summary>
public static class MethodRegistry
{
    private static readonly Dictionary<string, MethodDescriptor> Methods = new MethodDescriptor[]
    {
        new("saliency", _ => new Saliency()),
        new("grad-x-input", _ => new GradTimesInput()),
        new("grad-cam", o => new GradCam(o.Text("layer"))),
        new(GradCamPlusPlus.MethodName, o => new GradCamPlusPlus(o.Text("layer"))),
        new(HiResCam.MethodName, o => new HiResCam(o.Text("layer"))),
        new(XGradCam.MethodName, o => new XGradCam(o.Text("layer"))),
        new(LayerCam.MethodName, o => new LayerCam(o.Text("layer"))),
        new(GradCamElementWise.MethodName, o => new GradCamElementWise(o.Text("layer"))),
        new(EigenCam.MethodName, o => new EigenCam(o.Text("layer"))),
        new(EigenGradCam.MethodName, o => new EigenGradCam(o.Text("layer"))),
        new(ScoreCam.MethodName, o => new ScoreCam(o.Text("layer"), MaxRows(o))),
        new(AblationCam.MethodName, o => new AblationCam(o.Text("layer"), MaxRows(o))),
        new(Occlusion.MethodName, o =>
        {
            var (window, strides) = Occlusion.ReadShape(o);
            return new Occlusion(window, strides, BaselineFrom(o, "baseline", "zero"), MaxRows(o));
        }),
        new(InputMap.MethodName, _ => new InputMap()),
        new(ParamGradsMethod.MethodName, ParamGradsMethod.Read),
        new(IntegratedGradients.MethodName, IntegratedGradientsFrom),
        new(AttentionRollout.MethodName, o => new AttentionRollout(
            o.Choice("heads", AttentionRollout.HeadFusions),
            o.Number("discard", 0, 0, 0.99, "a fraction from 0 to 0.99 (of each layer's attention weights to drop)"),
            MaxRows(o))),
        new(SmoothGrad.MethodName, o =>
        {
            var of = o.Choice("of", "saliency", "grad-x-input", IntegratedGradients.MethodName);
            IInputAttribution inner = of switch
            {
                "grad-x-input" => new GradTimesInput(),
                IntegratedGradients.MethodName => (IntegratedGradients)IntegratedGradientsFrom(o),
                _ => new Saliency(),
            };
            return new SmoothGrad(inner,
                o.Integer("samples", 25, 1, 10_000),
                o.Number("stdev", 0.15, 0, 10, "a number from 0 to 10 (a fraction of each sample's max − min)"),
                o.Choice("type", SmoothGrad.Types),
                o.Integer("seed", 0, 0, int.MaxValue),
                MaxRows(o));
        }),
        new(Lime.MethodName, o => new Lime(
            o.Integer("samples", 1000, 2, 1_000_000),
            o.Number("kernelWidth", 0.25, double.Epsilon, 1e6, "a positive number"),
            o.Number("alpha", 1.0, 0, 1e12, "a number ≥ 0 (the ridge penalty)"),
            BaselineFrom(o, "hide", Baseline.SegmentMean),
            o.Choice("explain", "probability", "logit") == "probability",
            o.Integer("seed", 0, 0, int.MaxValue),
            MaxRows(o))),
        new(KernelShap.MethodName, o => KernelShapFrom(o, new SegmentPlayers(BaselineFrom(o, "hide", "zero")))),
        new(PermutationShap.MethodName, o => PermutationShapFrom(o, new SegmentPlayers(BaselineFrom(o, "hide", "zero")))),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>
    /// The perturbation methods as a table job takes them: over its features (a one-hot group one player), absent features
    /// taken from background rows of the data (<c>background</c>: a random sample chosen in the selection pass, or its k-means
    /// summary) instead of a baseline over segments.
    /// </summary>
    private static readonly Dictionary<string, MethodDescriptor> TableMethods = new MethodDescriptor[]
    {
        new(KernelShap.MethodName, o => KernelShapFrom(o, FeaturePlayers.Read(o))),
        new(PermutationShap.MethodName, o => PermutationShapFrom(o, FeaturePlayers.Read(o))),
        new(Lime.MethodName, o => new TabularLime(
            o.Integer("samples", 5000, 2, 1_000_000),
            o.Raw("kernelWidth") is null ? null : o.Number("kernelWidth", 1, double.Epsilon, 1e6, "a positive number"),
            o.Number("alpha", 1.0, 0, 1e12, "a number ≥ 0 (the ridge penalty)"),
            o.Choice("explain", "probability", "logit") == "probability",
            o.Integer("seed", 0, 0, int.MaxValue),
            Subset.ReadRows(o, "training", 1000),
            MaxRows(o),
            Tabular.SpPickSpec.Read(o),
            o.Choice("perturbations", "row", "shared") == "shared")),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    public static IEnumerable<string> Names => Methods.Keys;

    public static bool TryGet(string name, [NotNullWhen(true)] out MethodDescriptor? descriptor) =>
        Methods.TryGetValue(name, out descriptor);

    /// <summary>The method a job names, its options read from <see cref="MethodSpec.Options"/>; a bad option is a one-line error.</summary>
    /// <param name="table">Whether the job explains a table: the perturbation methods then play over its features.</param>
    public static IAttributionMethod Create(MethodSpec spec, bool table = false) => CreateWithSubset(spec, table).Method;

    /// <summary>The method and the samples it explains (every method takes <c>subset</c>).</summary>
    public static (IAttributionMethod Method, Subset Subset) CreateWithSubset(MethodSpec spec, bool table = false)
    {
        var prefix = $"methods.{spec.Name}.";
        if (!(table && TableMethods.TryGetValue(spec.Name, out var descriptor)) && !TryGet(spec.Name, out descriptor))
            throw new ExplainException($"methods.{spec.Name}: unknown method (known: {string.Join(", ", Names)})");
        var options = OptionsReader.Parse(spec.Options, prefix);
        var subset = Subset.Read(options);
        var method = descriptor.Create(options);
        options.RejectUnread();
        return (method, subset);
    }

    /// <summary>kernel-shap's options over <paramref name="players"/> (segments, or a table's features).</summary>
    private static KernelShap KernelShapFrom(OptionsReader o, IPlayers players) => new(
        o.Integer("samples", 2048, 1, 1_000_000), players, o.Choice("explain", "logit", "probability") == "probability",
        o.Integer("seed", 0, 0, int.MaxValue), MaxRows(o));

    /// <summary>permutation-shap's options over <paramref name="players"/>: <c>permutations</c> antithetic pairs (10).</summary>
    private static PermutationShap PermutationShapFrom(OptionsReader o, IPlayers players) => new(
        o.Integer("permutations", 10, 1, 100_000), players, o.Choice("explain", "logit", "probability") == "probability",
        o.Integer("seed", 0, 0, int.MaxValue), MaxRows(o));

    /// <summary>
    /// Integrated gradients' options; smooth-grad of integrated gradients reads them too (steps, method,
    /// baseline, sigma), beside its own.
    /// </summary>
    private static IAttributionMethod IntegratedGradientsFrom(OptionsReader o)
    {
        var rule = o.Choice("method", Quadrature.Rules);
        var steps = o.Integer("steps", 50, rule == "riemann_trapezoid" ? 2 : 1, 10_000);
        var baseline = BaselineFrom(o, "baseline", "zero");
        return new IntegratedGradients(steps, rule, baseline, MaxRows(o));
    }

    /// <summary>
    /// A reference input named by <paramref name="field"/>: "zero", a number, "blur" (σ from <c>sigma</c>, 3 pixels
    /// when absent) and, where <paramref name="fallback"/> or the field says so for segment methods, "mean".
    /// </summary>
    private static Baseline BaselineFrom(OptionsReader o, string field, string fallback)
    {
        var segmentMean = field == "hide";
        var name = o.Raw(field) switch
        {
            null => fallback,
            { ValueKind: JsonValueKind.Number } v when double.IsFinite(v.GetDouble()) => null,
            { ValueKind: JsonValueKind.String } v when v.GetString() is "zero" or "blur" || (segmentMean && v.GetString() == Baseline.SegmentMean) => v.GetString(),
            _ => throw new ExplainException($"{o.Prefix}{field}: expected {(segmentMean ? "\"mean\", " : "")}\"zero\", a number or \"blur\""),
        };
        var sigma = o.Number("sigma", 3, 0.1, 1000, "a number of pixels from 0.1 to 1000 (the blur's σ)");
        return name switch
        {
            null => new Baseline("number", o.Raw(field)!.Value.GetDouble(), 0),
            "blur" => new Baseline("blur", 0, sigma),
            "zero" => Baseline.Zero,
            _ => new Baseline(name, 0, 0),
        };
    }

    /// <summary>Rows per forward/backward of a method's own passes; the job's batch size when absent.</summary>
    private static int? MaxRows(OptionsReader o) => o.Raw("maxBatch") is null ? null : o.Integer("maxBatch", null, 1, 1 << 20);
}
