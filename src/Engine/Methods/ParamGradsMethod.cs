using System.Text.Json;
using ExplainCluster.Engine.Options;
using ExplainCluster.Engine.ParamGrads;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Per-sample parameter gradients (<see cref="ParameterGradients"/>): the gradient of each sample's cross-entropy,
/// against its label when the job has labels, else against its prediction, with respect to the model's parameters.
/// Maps: the L2 norm of each selected layer's gradient, [n, L]; column <c>param_grad_norm</c>, the norm of the
/// whole gradient; with <c>projection</c>, the extra map <c>param-grads-projected</c>, [n, D].
/// </summary>
public sealed class ParamGradsMethod(string[]? layers, (int Dims, long Seed)? projection) : IAttributionMethod
{
    public const string MethodName = "param-grads";

    public const string Projected = "param-grads-projected";

    public string Name => MethodName;

    public bool UsesSharedGradients => false;

    public bool MapsPixels => false;

    public IReadOnlyList<string> Columns { get; } = ["param_grad_norm"];

    public IReadOnlyList<string> ExtraMaps { get; } = projection is null ? [] : [Projected];

    /// <summary>The projection's seed (its Gaussian sketch); null without a projection.</summary>
    public long? Seed => projection?.Seed;

    /// <summary>The engine for this model and these options: made once per model host and shared by its shards.</summary>
    public ParameterGradients For(Models.ExplainModel model) => model.Companion(
        $"{MethodName}:{(layers is null ? "all" : string.Join(',', layers))}:{projection}",
        () => ParameterGradients.Create(model.LocalPath, model.Device, layers, projection));

    public MethodOutput Attribute(MethodBatch batch)
    {
        var engine = For(batch.Model);
        var targets = batch.Labels ?? batch.Shared.Logits.argmax(1);
        var result = engine.Compute(batch.Input, targets);
        var norms = result.SquaredNorms.AtLeast(0).sqrt(); // rooted Scalars (Scalars)
        var total = result.SquaredNorms.sum(1).AtLeast(0).sqrt();
        return new MethodOutput(norms, [total], result.Projected is { } p ? [p] : null);
    }

    /// <summary><c>layers</c>: "all" [default] or module names; <c>projection</c>: {"dims": D, "seed": s}.</summary>
    public static ParamGradsMethod Read(OptionsReader options)
    {
        string[]? layers = options.Raw("layers") switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } s when s.GetString() == "all" => null,
            { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 0 && a.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String && e.GetString()!.Length > 0) =>
                [.. a.EnumerateArray().Select(e => e.GetString()!)],
            _ => throw new ExplainException($"{options.Prefix}layers: expected \"all\" or a list of module names"),
        };
        (int, long)? projection = null;
        if (options.Raw("projection") is { } raw)
        {
            if (raw.ValueKind != JsonValueKind.Object) throw new ExplainException($"{options.Prefix}projection: expected {{\"dims\": D, \"seed\": s}}");
            var reader = new OptionsReader(raw, options.Prefix + "projection.");
            projection = (reader.Integer("dims", null, 1, 65536), reader.Integer("seed", 0, 0, int.MaxValue));
            reader.RejectUnread();
        }
        return new ParamGradsMethod(layers, projection);
    }
}
