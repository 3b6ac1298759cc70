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

    /// <summary>The modules the chain runs, by dotted name: top-level children, and along the split's path the children of its containers.</summary>
    public IReadOnlyList<string> Steps => [.. _steps.Select(s => s.Name)];

    /// <summary><see cref="Features"/> or <see cref="Head"/> (<paramref name="head"/>), handing each step's output to <paramref name="record"/>.</summary>
    public Tensor Run(Tensor x, bool head, Action<string, Tensor> record) => Chain(x, head ? _at + 1 : 0, head ? _steps.Length : _at + 1, record);

    /// <summary>The chain of <paramref name="root"/>'s children split after the module <paramref name="layer"/> names.</summary>
    public static ChildSplit Resolve(jit.ScriptModule root, string layer)
    {
        var chain = new List<(string Name, jit.ScriptModule Module)>();
        try
        {
            var at = Expand(root, layer.Split('.'), 0, layer, chain);
            return new ChildSplit(layer, [.. chain.Select(m => new Step(m.Name, m.Module, LinearInputs(m.Module)))], at);
        }
        catch (ExplainException)
        {
            foreach (var (_, module) in chain) module.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var step in _steps) step.Module.Dispose();
    }

    private Tensor Chain(Tensor x, int from, int to, Action<string, Tensor>? record = null)
    {
        for (var i = from; i < to; i++)
        {
            var step = _steps[i];
            if (step.NeedsFlat(x)) x = x.flatten(1);
            x = (Tensor)step.Module.call(x);
            record?.Invoke(step.Name, x);
        }
        return x;
    }

    /// <summary>Appends the chain for path[depth..] under <paramref name="parent"/>; returns the index of the named module.</summary>
    private static int Expand(jit.ScriptModule parent, string[] path, int depth, string layer, List<(string Name, jit.ScriptModule Module)> chain)
    {
        var prefix = depth == 0 ? "" : string.Join('.', path[..depth]) + ".";
        var children = parent.named_children().Select(c => (name: prefix + c.name, module: (jit.ScriptModule)c.module)).ToList();
        var i = children.FindIndex(c => c.name == prefix + path[depth]);
        if (i < 0)
        {
            foreach (var (_, module) in children) module.Dispose();
            throw Unknown(layer, string.Join('.', path[..depth]), children.Select(c => c.name[prefix.Length..]));
        }
        chain.AddRange(children[..i]);
        int at;
        if (depth == path.Length - 1)
        {
            chain.Add(children[i]);
            at = chain.Count - 1;
        }
        else
        {
            using var container = children[i].module;
            at = Expand(container, path, depth + 1, layer, chain);
        }
        chain.AddRange(children[(i + 1)..]);
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

    private sealed record Step(string Name, jit.ScriptModule Module, long? InFeatures)
    {
        /// <summary>Whether x [n, …] must be flattened to [n, in] first: its last dim is not <c>in</c> but the rest flattens to it.</summary>
        public bool NeedsFlat(Tensor x) =>
            InFeatures is { } inputs && x.dim() > 2 && x.shape[^1] != inputs && x.shape.Skip(1).Aggregate(1L, (a, b) => a * b) == inputs;
    }
}
