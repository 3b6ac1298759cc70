using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>One module of the model: its script module, direct parameters and buffers, children, and how it runs.</summary>
internal sealed class ModuleNode(string path, jit.ScriptModule module)
{
    /// <summary>The dotted name ("layer1.0.conv1"); "" for the model itself.</summary>
    public string Path { get; } = path;

    public jit.ScriptModule Module { get; } = module;

    public ScriptClass? Class { get; set; }

    public List<(string Name, Tensor Tensor)> Parameters { get; } = [];

    public Dictionary<string, Tensor> Buffers { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, ModuleNode> Children { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether this module or one inside it has parameters.</summary>
    public bool HoldsParameters { get; set; }

    /// <summary>Set for a module run as functional ops.</summary>
    public LeafConfig? Leaf { get; set; }

    /// <summary>Why this module runs as itself; null when it is a leaf or an interpreted container.</summary>
    public string? Opaque { get; set; }

    /// <summary>What the manifest calls the module (<see cref="ScriptClass.Shown"/>); "module" when its class is not in the archive's code.</summary>
    public string Kind => Class?.Shown ?? "module";

    public override string ToString() => Path.Length == 0 ? "(model)" : Path;
}

/// <summary>A reported call: a module with parameters and the tensors it took and gave, in the run's graph.</summary>
internal sealed record ModuleCall(ModuleNode Node, string Method, object?[] Inputs, Tensor Output);

/// <summary>
/// A module run as functional ops: its kind and the constants of its class (header Finals, or the traced call's
/// arguments). Only PyTorch's own classes, by qualified name, are leaves: a user's class named <c>Linear</c> is not.
/// </summary>
internal sealed record LeafConfig(string Kind, long[] Stride, long[] Padding, long[] Dilation, long Groups, double Eps, long StartDim, long EndDim, bool InPlace = false)
{
    public const string Conv2d = "Conv2d", Linear = "Linear", BatchNorm = "BatchNorm", Elementwise = "ReLU", Identity = "Identity", Flatten = "Flatten";

    private const string Modules = "__torch__.torch.nn.modules.";

    /// <summary>The config of a known class; null otherwise, with <paramref name="why"/> set when it is a known class this cannot run.</summary>
    public static LeafConfig? Of(ScriptClass cls, out string? why)
    {
        why = null;
        var none = new LeafConfig("", [1, 1], [0, 0], [1, 1], 1, 1e-5, 1, -1);
        var qualified = cls.Qualified;
        if (!qualified.StartsWith(Modules, StringComparison.Ordinal)) return null;
        switch (qualified[Modules.Length..])
        {
            case "linear.Linear":
                return none with { Kind = Linear };
            case "activation.ReLU":
                // Scripted: the header's Final; traced: the op its forward calls.
                bool? inPlace = cls.Finals.GetValueOrDefault("inplace") is bool b ? b
                    : FindCall(cls, "torch.relu_") is not null ? true : FindCall(cls, "torch.relu") is not null ? false : null;
                return inPlace is { } known ? none with { Kind = Elementwise, InPlace = known } : Refuse("inplace not read from its code", out why);
            case "linear.Identity" or "dropout.Dropout" or "dropout.Dropout1d" or "dropout.Dropout2d" or "dropout.AlphaDropout":
                return none with { Kind = Identity };
            case "flatten.Flatten" when cls.Finals.TryGetValue("start_dim", out var s) && s is long start && cls.Finals.TryGetValue("end_dim", out var e) && e is long end:
                return none with { Kind = Flatten, StartDim = start, EndDim = end };
            case "conv.Conv2d" when cls.Pair("kernel_size") is not null:
                if (cls.Finals.GetValueOrDefault("padding_mode") is string mode && mode != "zeros") return Refuse($"padding_mode \"{mode}\"", out why);
                var padding = cls.Finals.GetValueOrDefault("padding") is "valid" ? [0, 0] : cls.Pair("padding");
                if (padding is null || cls.Pair("stride") is not { } stride || cls.Pair("dilation") is not { } dilation || cls.Finals.GetValueOrDefault("groups") is not long groups)
                    return Refuse("padding, stride, dilation or groups not read from its header", out why);
                return none with { Kind = Conv2d, Stride = stride, Padding = padding, Dilation = dilation, Groups = groups };
            case "conv.Conv2d":
                // traced: torch._convolution(x, weight, bias, stride, padding, dilation, transposed, output_padding, groups, …)
                if (FindCall(cls, "torch._convolution") is not { Length: >= 9 } conv) return Refuse("no torch._convolution call in its code", out why);
                if (Pair(conv[3]) is not { } ts || Pair(conv[4]) is not { } tp || Pair(conv[5]) is not { } td || Lit(conv[6]) is not false || Lit(conv[8]) is not long g)
                    return Refuse("its torch._convolution call has arguments this does not read", out why);
                return none with { Kind = Conv2d, Stride = ts, Padding = tp, Dilation = td, Groups = g };
            case "batchnorm.BatchNorm2d" or "batchnorm.BatchNorm1d" when cls.Finals.ContainsKey("eps"):
                if (cls.Finals.GetValueOrDefault("track_running_stats") is false) return Refuse("no running statistics", out why);
                return cls.Finals["eps"] is double eps ? none with { Kind = BatchNorm, Eps = eps } : Refuse("eps not read from its header", out why);
            case "batchnorm.BatchNorm2d" or "batchnorm.BatchNorm1d":
                // traced: torch.batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)
                if (FindCall(cls, "torch.batch_norm") is not { Length: >= 8 } bn || Lit(bn[5]) is not false || Lit(bn[7]) is not double traced)
                    return Refuse("no eval-mode torch.batch_norm call in its code", out why);
                return none with { Kind = BatchNorm, Eps = traced };
            default:
                return null;
        }
    }

    private static LeafConfig? Refuse(string reason, out string why)
    {
        why = reason;
        return null;
    }

    private static object? Lit(Expr e)
    {
        try { return ScriptCode.Literal(e); }
        catch (FormatException) { return e; }
    }

    private static long[]? Pair(Expr e) => Lit(e) is object?[] { Length: 2 } two && two.All(v => v is long) ? [(long)two[0]!, (long)two[1]!] : null;

    private static Expr[]? FindCall(ScriptClass cls, string op)
    {
        Expr[]? Find(Expr e) => e switch
        {
            Call { Function: Attribute f } c when DottedName(f) == op => c.Args,
            Call c => c.Args.Select(Find).FirstOrDefault(a => a is not null),
            _ => null,
        };
        static string? DottedName(Expr e) => e switch { Name n => n.Id, Attribute a => DottedName(a.Target) + "." + a.Name, _ => null };
        return cls.Methods.Values.SelectMany(m => m.Body).Select(s => Find(s.Value)).FirstOrDefault(a => a is not null);
    }

    /// <summary>
    /// The module's forward on <paramref name="x"/> with its own parameters and buffers, out of place (the caller
    /// applies <see cref="InPlace"/>). Identity gives <paramref name="x"/> itself, as PyTorch's does.
    /// </summary>
    public Tensor Run(ModuleNode node, Tensor x)
    {
        Tensor? P(string name) => node.Parameters.FirstOrDefault(p => p.Name == name).Tensor;
        return Kind switch
        {
            Linear => nn.functional.linear(x, P("weight")!, P("bias")),
            Conv2d => nn.functional.conv2d(x, P("weight")!, P("bias"), Stride, Padding, Dilation, Groups),
            BatchNorm => nn.functional.batch_norm(x, node.Buffers["running_mean"], node.Buffers["running_var"], P("weight"), P("bias"), false, 0.0, Eps),
            Elementwise => nn.functional.relu(x),
            Flatten => x.flatten(StartDim, EndDim),
            _ => x,
        };
    }
}
