using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// The child-chain convention: the model is run child by child, and a dotted layer name ("layer4.1",
/// "features.28") reaches into nested containers, whose children then take the container's place in the
/// chain. Where a child's first parameter is a Linear weight [out, in] and the running value is an
/// image-like [n, …] whose trailing dims flatten to exactly <c>in</c> (torchvision's <c>torch.flatten(x, 1)</c>
/// between avgpool and fc or classifier), the value is flattened first.
/// </summary>
internal sealed class ChildSplit : ILayerSplit, IDisposable
{
    private readonly Step[] _steps;
    private readonly int _at;

    private ChildSplit(string layer, Step[] steps, int at)
    {
        Layer = layer;
        _steps = steps;
        _at = at;
    }

    public string Layer { get; }

    public bool Verified { get; set; }

    public Tensor Features(Tensor input) => Chain(input, 0, _at + 1);

    public Tensor Head(Tensor features) => Chain(features, _at + 1, _steps.Length);

    /// <summary>The chain of <paramref name="root"/>'s children split after the module <paramref name="layer"/> names.</summary>
    public static ChildSplit Resolve(jit.ScriptModule root, string layer)
    {
        var chain = new List<jit.ScriptModule>();
        try
        {
            var at = Expand(root, layer.Split('.'), 0, layer, chain);
            return new ChildSplit(layer, [.. chain.Select(m => new Step(m, LinearInputs(m)))], at);
        }
        catch (ExplainException)
        {
            foreach (var module in chain) module.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var step in _steps) step.Module.Dispose();
    }

    private Tensor Chain(Tensor x, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var step = _steps[i];
            if (step.NeedsFlat(x)) x = x.flatten(1);
            x = (Tensor)step.Module.call(x);
        }
        return x;
    }

    /// <summary>Appends the chain for path[depth..] under <paramref name="parent"/>; returns the index of the named module.</summary>
    private static int Expand(jit.ScriptModule parent, string[] path, int depth, string layer, List<jit.ScriptModule> chain)
    {
        var children = parent.named_children().Select(c => (c.name, module: (jit.ScriptModule)c.module)).ToList();
        var i = children.FindIndex(c => c.name == path[depth]);
        if (i < 0)
        {
            foreach (var (_, module) in children) module.Dispose();
            throw Unknown(layer, string.Join('.', path[..depth]), children.Select(c => c.name));
        }
        chain.AddRange(children[..i].Select(c => c.module));
        int at;
        if (depth == path.Length - 1)
        {
            chain.Add(children[i].module);
            at = chain.Count - 1;
        }
        else
        {
            using var container = children[i].module;
            at = Expand(container, path, depth + 1, layer, chain);
        }
        chain.AddRange(children[(i + 1)..].Select(c => c.module));
        return at;
    }

    private static ExplainException Unknown(string layer, string parent, IEnumerable<string> names)
    {
        var prefix = parent.Length == 0 ? "" : parent + ".";
        var listed = string.Join(", ", names.Select(n => $"\"{prefix}{n}\""));
        var where = parent.Length == 0 ? "this model's children" : $"children of \"{parent}\"";
        return new ExplainException(
            $"unknown Grad-CAM layer \"{layer}\": use a child of a model whose forward chains its children, dotted for " +
            $"nested containers ({where}: {(listed.Length == 0 ? "none" : listed)}), or \"forward_features\" for a model " +
            "exporting forward_features/forward_head");
    }

    /// <summary>The input width of a Linear-like module (first parameter a weight [out, in]); null for any other.</summary>
    private static long? LinearInputs(jit.ScriptModule module)
    {
        using var scope = NewDisposeScope();
        var first = module.named_parameters().Select(p => p.parameter).FirstOrDefault();
        return first is { } weight && weight.dim() == 2 ? weight.shape[1] : null;
    }

    private sealed record Step(jit.ScriptModule Module, long? InFeatures)
    {
        /// <summary>Whether x [n, …] must be flattened to [n, in] first: its last dim is not <c>in</c> but the rest flattens to it.</summary>
        public bool NeedsFlat(Tensor x) =>
            InFeatures is { } inputs && x.dim() > 2 && x.shape[^1] != inputs && x.shape.Skip(1).Aggregate(1L, (a, b) => a * b) == inputs;
    }
}
