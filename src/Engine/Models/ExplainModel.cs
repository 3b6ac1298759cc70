using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// A TorchScript model saved by <c>torch.jit.save</c>, in eval mode on one device, shared by the model
/// host's threads: TorchScript modules run concurrent forward/backward passes, each with its own graph.
/// </summary>
public sealed class ExplainModel : IDisposable
{
    private readonly jit.ScriptModule _module;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ILayerSplit> _splits = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<IDisposable>> _companions = new(StringComparer.Ordinal);

    private ExplainModel(jit.ScriptModule module, Device device, string location, bool channelsLast, string localPath)
    {
        _module = module;
        LocalPath = localPath;
        Device = device;
        Location = location;
        ChannelsLast = channelsLast;
        _methods = new Lazy<IReadOnlySet<string>>(() => RootMethods(localPath));
        _children = new Lazy<IReadOnlyList<string>>(() =>
        {
            var children = _module.named_children().ToArray();
            foreach (var (_, child) in children) child.Dispose();
            return [.. children.Select(c => c.name)];
        });
    }

    private readonly Lazy<IReadOnlySet<string>> _methods;
    private readonly Lazy<IReadOnlyList<string>> _children;
    private int _stageCount = -1;
    private const string StagesMethod = "stages";
    private const string PreLogitsMethod = "pre_logits";

    /// <summary>Whether the model exports <c>forward_features</c> and <c>forward_head</c> (the timm convention), read once from the archive's code.</summary>
    public bool FollowsTimm => _methods.Value.Contains(TimmSplit.LayerName) && _methods.Value.Contains("forward_head");

    /// <summary>Whether the model exports <c>stages(x) -&gt; List[Tensor]</c>, each stage's output (tools/explain_export.py).</summary>
    public bool ExportsStages => _methods.Value.Contains(StagesMethod);

    /// <summary>Whether the model exports <c>pre_logits(features)</c>, the pooled features its classifier takes.</summary>
    public bool ExportsPreLogits => _methods.Value.Contains(PreLogitsMethod);

    /// <summary>Each stage's output from the exported <c>stages(x)</c>, without gradients.</summary>
    public Tensor[] Stages(Tensor input)
    {
        using var _ = no_grad();
        return Invoke(input, () => _module.invoke(StagesMethod, input) switch
        {
            Tensor[] { Length: > 0 } stages => stages,
            var other => throw new ExplainException($"model {Location} returned {Describe(other)} from {StagesMethod}(x); expected a list of tensors, one per stage"),
        });
    }

    /// <summary>The number of stages <c>stages(x)</c> gives, counted once on <paramref name="probe"/>'s input.</summary>
    public int StageCount(Func<Tensor> probe)
    {
        if (_stageCount >= 0) return _stageCount;
        using var scope = NewDisposeScope();
        return _stageCount = Stages(probe()).Length;
    }

    /// <summary>The exported <c>pre_logits(features)</c> of <c>forward_features</c>'s output, without gradients.</summary>
    public Tensor PreLogits(Tensor features)
    {
        using var _ = no_grad();
        return Invoke(features, () => _module.invoke<Tensor>(PreLogitsMethod, features));
    }

    /// <summary>The methods of the archive's root class (forward and the exported ones), read once from its code; none when it cannot be read.</summary>
    private static IReadOnlySet<string> RootMethods(string path)
    {
        try
        {
            var code = ScriptCode.Read(path);
            return code.Classes.TryGetValue(code.Root, out var root) ? root.Methods.Keys.ToHashSet(StringComparer.Ordinal) : new HashSet<string>();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            return new HashSet<string>();
        }
    }

    /// <summary>The output of <c>forward_features</c> (timm convention), without gradients.</summary>
    public Tensor Features(Tensor input)
    {
        using var _ = no_grad();
        return Invoke(input, () => Split(TimmSplit.LayerName).Features(input));
    }

    public Device Device { get; }

    /// <summary>Whether image batches are laid out channels-last (NHWC) for this model.</summary>
    public bool ChannelsLast { get; }

    public string Location { get; }

    /// <summary>The file it was loaded from (a downloaded model's cached copy).</summary>
    public string LocalPath { get; }

    /// <summary>A separate copy, loaded again from <see cref="LocalPath"/>: changing its parameters leaves this model as it is.</summary>
    public ExplainModel LoadCopy() => Load(LocalPath, Device, Location, ChannelsLast);

    /// <summary>
    /// The modules that hold parameters, in the order the model defines them, each with its parameter tensors
    /// (the module's own, not copies: writing to them changes the model).
    /// </summary>
    public IReadOnlyList<(string Layer, Tensor[] Parameters)> ParameterLayers() =>
        [.. _module.named_parameters()
            .Select(p => (Layer: p.name.Contains('.') ? p.name[..p.name.LastIndexOf('.')] : "", p.parameter))
            .GroupBy(p => p.Layer)
            .Select(g => (g.Key, g.Select(p => (Tensor)p.parameter).ToArray()))];

    /// <summary>Loads a TorchScript file; any other file is an <see cref="ExplainException"/>.</summary>
    /// <param name="channelsLast">Lay image batches out channels-last (see <see cref="ModelHostOptions.MemoryFormat"/>).</param>
    public static ExplainModel Load(string localPath, Device device, string location, bool channelsLast = true)
    {
        jit.ScriptModule module;
        try
        {
            module = jit.load(localPath, device);
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or IOException)
        {
            throw new ExplainException($"model {location} is not a TorchScript file that torch.jit.load can read ({FirstLine(e.Message)})", e);
        }
        module.eval();
        foreach (var p in module.parameters()) p.requires_grad = false;
        return new ExplainModel(module, device, location, channelsLast, localPath);
    }

    /// <summary>
    /// A batch as this model takes it: on the model's device and, for image batches [n, c, h, w] when
    /// <see cref="ChannelsLast"/> is set, with channels-last strides [c·h·w, 1, w·c, c]. The values and
    /// the shape are unchanged; gradients with respect to the result come back with the same strides.
    /// </summary>
    public Tensor PrepareInput(Tensor batch)
    {
        var x = batch.to(Device);
        return ChannelsLast && x.dim() == 4 ? ToChannelsLast(x) : x;
    }

    /// <summary>
    /// A copy of an image batch [n, c, h, w] with channels-last strides [c·h·w, 1, w·c, c], as PyTorch's
    /// <c>x.contiguous(memory_format=torch.channels_last)</c> makes it (TorchSharp 0.107 has no memory_format).
    /// </summary>
    public static Tensor ToChannelsLast(Tensor x)
    {
        var (c, h, w) = (x.shape[1], x.shape[2], x.shape[3]);
        var laidOut = empty_strided(x.shape, [c * h * w, 1, w * c, c], x.dtype, x.device);
        laidOut.copy_(x);
        return laidOut;
    }

    /// <summary>Logits [n, classes] for a batch [n, ...]; any other output is an <see cref="ExplainException"/> naming it.</summary>
    public Tensor Forward(Tensor input) => Invoke(input, () => Logits(_module.call(input)));

    /// <summary>
    /// Each block's attention softmax, [n, heads, tokens, tokens] per layer, from the model's exported
    /// <c>attention_maps(x)</c>; a model without that export is an <see cref="ExplainException"/> saying how to add it.
    /// </summary>
    public Tensor[] AttentionMaps(Tensor input) => Invoke(input, () =>
    {
        object? output;
        try
        {
            output = _module.invoke(AttentionMapsMethod, input);
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException && e.Message.Contains($"'{AttentionMapsMethod}'", StringComparison.Ordinal)
            && !e.Message.Contains("TorchScript interpreter", StringComparison.Ordinal))
        {
            throw new ExplainException(
                $"model {Location} does not export {AttentionMapsMethod}(x); see README, \"Adding attention_maps to a vision transformer\"", e);
        }
        return output switch
        {
            Tensor[] maps => maps,
            Tensor one => [one],
            _ => throw new ExplainException($"model {Location} returned {Describe(output)} from {AttentionMapsMethod}(x); expected a list of [n, heads, tokens, tokens] tensors"),
        };
    });

    private const string AttentionMapsMethod = "attention_maps";

    private Tensor Logits(object? output) => output switch
    {
        Tensor { Dimensions: 2 } logits => logits,
        Tensor other => throw new ExplainException(
            $"model {Location} returned shape [{string.Join(", ", other.shape)}] from forward; expected logits [batch, classes]"),
        _ => throw new ExplainException($"model {Location} returned {Describe(output)} from forward; expected one tensor of logits [batch, classes]"),
    };

    /// <summary>What a TorchScript forward returned, in the model author's words (never a .NET type name).</summary>
    private static string Describe(object? output) => output switch
    {
        null => "None",
        System.Runtime.CompilerServices.ITuple tuple => $"a tuple of {tuple.Length} values",
        string => "a string",
        System.Collections.IDictionary => "a dict",
        System.Collections.ICollection list => $"a list of {list.Count} values",
        bool => "a bool",
        _ => "a number or other non-tensor value",
    };

    /// <summary>Fails on NaN or ±Inf logits [n, classes], naming the first such sample; <paramref name="indices"/> are the rows' dataset indices.</summary>
    public void CheckFinite(Tensor logits, long[] indices)
    {
        using var scope = NewDisposeScope();
        var finite = isfinite(logits).all(1);
        if (finite.all().item<bool>()) return;
        var bad = (~finite).nonzero()[0, 0].item<long>();
        throw new ExplainException($"model {Location} gave NaN or Inf logits for sample {indices[bad]}");
    }

    /// <summary>
    /// The split at <paramref name="layer"/>: <c>forward_features</c> for the timm convention, else the
    /// name of a child of a model whose forward chains its children (nn.Sequential exports, torchvision's
    /// ResNet, VGG, …), dotted to reach into nested containers ("layer4.1", "features.28").
    /// </summary>
    public ILayerSplit Split(string layer)
    {
        if (_splits.TryGetValue(layer, out var known)) return known;
        ILayerSplit split;
        try
        {
            split = layer == TimmSplit.LayerName ? new TimmSplit(_module) : ChildSplit.Resolve(_module, layer);
        }
        catch (ExplainException e) when (Views.ModelTaps.IsExported(this, layer))
        {
            // A stage or the pre-logits features: the views read them, but the timm convention exports no way on to the logits.
            throw new ExplainException($"Grad-CAM layer \"{layer}\": the activations and embedding views can tap it, but a split needs the rest of the " +
                $"forward from there, which the timm convention exports only from \"{TimmSplit.LayerName}\": name that", e);
        }
        var kept = _splits.GetOrAdd(layer, split);
        if (!ReferenceEquals(kept, split)) (split as IDisposable)?.Dispose();
        return kept;
    }

    /// <summary>The full names of a parameter-holding module's own parameters ("features.0.weight"), in the order of <see cref="ParameterLayers"/>.</summary>
    public IReadOnlyList<string> ParameterNames(string layer) =>
        [.. _module.named_parameters().Select(p => p.name)
            .Where(n => (n.Contains('.') ? n[..n.LastIndexOf('.')] : "") == layer)];

    /// <summary>The names of the model's top-level children, in order (read once: TorchSharp wraps every child to list them).</summary>
    public IReadOnlyList<string> TopLevelChildren() => _children.Value;

    /// <summary>The top-level child before the last one that takes 2-D input (a Linear, or a container starting with one): the embedding's default.</summary>
    public string? ChildBeforeLastLinear()
    {
        var children = _module.named_children().ToArray();
        try
        {
            for (var i = children.Length - 1; i > 0; i--)
            {
                using var scope = NewDisposeScope();
                if (((jit.ScriptModule)children[i].module).named_parameters().Select(p => p.parameter).FirstOrDefault() is { } w && w.dim() == 2)
                    return children[i - 1].name;
            }
            return null;
        }
        finally
        {
            foreach (var (_, module) in children) module.Dispose();
        }
    }

    /// <summary>The model as the chain of its top-level children (split after the last one), checked against its forward once.</summary>
    internal ChildSplit TopLevelChain()
    {
        var children = TopLevelChildren();
        if (children.Count == 0) throw new ExplainException($"model {Location} has no child modules to take activations from");
        return (ChildSplit)Split(children[^1]);
    }

    /// <summary>Checks once per layer that features then head give the model's own logits.</summary>
    public void VerifySplit(ILayerSplit split, Tensor probe)
    {
        if (split.Verified) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var whole = Forward(probe);
        Tensor chained;
        try
        {
            chained = split.Head(split.Features(probe));
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException)
        {
            throw new ExplainException(
                $"Grad-CAM layer \"{split.Layer}\": {Explanation(e.Message)}; export forward_features/forward_head (timm convention, " +
                "e.g. with tools/explain_export.py) or use a model whose forward chains its children");
        }
        if (!chained.allclose(whole, rtol: 1e-4, atol: 1e-5))
            throw new ExplainException(
                $"Grad-CAM layer \"{split.Layer}\": this model's forward does not chain its children (flattening before a Linear), " +
                "so the layer cannot be isolated; export forward_features/forward_head (timm convention), e.g. with tools/explain_export.py");
        split.Verified = true;
    }

    /// <summary>
    /// An object tied to this model and shared by the shards that use it (param-grads' own copy of the model), made
    /// once per key on first use and disposed with the model. A failure to make it is kept: it would fail again.
    /// </summary>
    public T Companion<T>(string key, Func<T> create) where T : class, IDisposable =>
        (T)_companions.GetOrAdd(key, _ => new Lazy<IDisposable>(() =>
        {
            // Made on some batch's thread, inside its dispose scope: what it keeps (parameters, buffers) must outlive that batch.
            using var scope = NewDisposeScope();
            var made = create();
            scope.Detach(scope.DisposablesView.ToArray());
            return made;
        })).Value;

    public void Dispose()
    {
        foreach (var companion in _companions.Values.Where(c => c.IsValueCreated)) companion.Value.Dispose();
        foreach (var split in _splits.Values) (split as IDisposable)?.Dispose();
        _module.Dispose();
    }

    internal static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    /// <summary>
    /// The line of a libtorch error that explains it. TorchScript wraps the real error in "The following
    /// operation failed in the TorchScript interpreter." and a traceback; the explanation is the last
    /// "…Error: " line ("expected input[256, 3, 28, 28] to have 1 channels, but got 3 channels instead").
    /// </summary>
    internal static string Explanation(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var error = lines.LastOrDefault(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^[A-Za-z.]*(Error|Exception): "));
        return error is null ? FirstLine(message) : error[(error.IndexOf(": ", StringComparison.Ordinal) + 2)..];
    }

    /// <summary>Runs model code on <paramref name="input"/>; a libtorch error becomes "input [shape] does not fit model …: why".</summary>
    public T Invoke<T>(Tensor input, Func<T> call)
    {
        try
        {
            return call();
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException)
        {
            // A TorchScript `raise` in the model's own code: its message, not a misfit of the input.
            if (e.Message.Contains("prim.RaiseException(", StringComparison.Ordinal))
                throw new ExplainException($"model {Location} raised in forward: {Explanation(e.Message)}", e);
            var sample = string.Join(", ", input.shape.Skip(1));
            throw new ExplainException($"input [{sample}] does not fit model {Location}: {Explanation(e.Message)}", e);
        }
    }
}
