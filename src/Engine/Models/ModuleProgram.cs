using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// A TorchScript model's forward run in C# from the code its archive holds (<see cref="ScriptCode"/>), so that
/// each module's input and output can be seen — TorchSharp cannot hook inside a script module. Containers whose
/// forward is straight-line code (nn.Sequential, torchvision's ResNet and its blocks, scripted or traced) are
/// interpreted; Conv2d, Linear and BatchNorm2d/1d run as functional ops on the module's own parameters and are
/// reported to the caller with their input and output; ReLU, Identity, Dropout (eval) and Flatten run as their
/// ops; any other module runs as itself (<c>jit.ScriptModule.call</c>), and is reported when it holds parameters.
/// In-place ops of the code (<c>torch.add_</c>, <c>relu_</c>) run out of place, and a module run as itself gets a
/// copy of any tensor that was reported, so that what the caller keeps is never overwritten.
/// </summary>
internal sealed class ModuleProgram : IDisposable
{
    private static readonly HashSet<string> Ops = new(StringComparer.Ordinal)
    {
        "torch.add", "torch.add_", "torch.flatten", "torch.relu", "torch.relu_", "__torch__.torch.nn.functional.relu", "getattr",
    };

    private readonly jit.ScriptModule _root;
    private readonly List<IDisposable> _handles = [];

    private ModuleProgram(jit.ScriptModule root, ModuleNode tree, IReadOnlyList<ModuleNode> nodes)
    {
        _root = root;
        Tree = tree;
        Nodes = nodes;
    }

    public ModuleNode Tree { get; }

    /// <summary>Every module, in the order of the model's parameters (the module order of <c>named_modules</c>).</summary>
    public IReadOnlyList<ModuleNode> Nodes { get; }

    /// <summary>
    /// The program of <paramref name="root"/> (loaded from <paramref name="path"/>). Parameters keep their
    /// requires_grad as they are; the caller decides. A module whose code cannot be parsed runs as itself.
    /// </summary>
    public static ModuleProgram Build(string path, jit.ScriptModule root)
    {
        ScriptCode? code;
        string? unreadable = null;
        try
        {
            code = ScriptCode.Read(path);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            code = null;
            unreadable = $"the archive's code cannot be read ({e.Message})";
        }
        var modules = new Dictionary<string, jit.ScriptModule>(StringComparer.Ordinal) { [""] = root };
        var handles = new List<IDisposable>();
        foreach (var (name, module) in root.named_modules())
        {
            if (name.Length == 0) continue;
            modules[name] = (jit.ScriptModule)module;
            handles.Add((jit.ScriptModule)module);
        }
        var nodes = modules.ToDictionary(m => m.Key, m => new ModuleNode(m.Key, m.Value), StringComparer.Ordinal);
        var order = new List<ModuleNode>();
        // The parameter and buffer tensors live as long as the program, whatever dispose scope builds it.
        foreach (var (name, parameter) in root.named_parameters())
        {
            parameter.DetachFromDisposeScope();
            handles.Add(parameter);
            var node = nodes[Parent(name)];
            node.Parameters.Add((name[(name.LastIndexOf('.') + 1)..], parameter));
            if (!order.Contains(node)) order.Add(node);
        }
        foreach (var (name, buffer) in root.named_buffers())
        {
            buffer.DetachFromDisposeScope();
            handles.Add(buffer);
            nodes[Parent(name)].Buffers[name[(name.LastIndexOf('.') + 1)..]] = buffer;
        }
        foreach (var node in nodes.Values)
        {
            if (node.Path.Length > 0) nodes[Parent(node.Path)].Children[node.Path[(node.Path.LastIndexOf('.') + 1)..]] = node;
        }
        foreach (var node in order.ToList())
            for (var p = node.Path; p.Length > 0;) nodes[p = Parent(p)].HoldsParameters = true;
        foreach (var node in nodes.Values) node.HoldsParameters |= node.Parameters.Count > 0;
        Classify(nodes[""], code, code?.Root, unreadable);
        var program = new ModuleProgram(root, nodes[""], [.. order]);
        program._handles.AddRange(handles);
        return program;
    }

    private static string Parent(string dotted) => dotted.LastIndexOf('.') is var dot and >= 0 ? dotted[..dot] : "";

    private static void Classify(ModuleNode node, ScriptCode? code, string? className, string? unreadable)
    {
        var cls = className is not null && code is not null && code.Classes.TryGetValue(className, out var found) ? found : null;
        node.Class = cls;
        if (cls is null)
        {
            node.Opaque = unreadable ?? $"its class {className ?? "(unknown)"} is not in the archive's code";
            foreach (var child in node.Children.Values) Classify(child, code, null, unreadable ?? "its parent runs as itself");
            return;
        }
        foreach (var (name, type) in cls.Attributes)
            if (node.Children.TryGetValue(name, out var child)) Classify(child, code, type, null);
        foreach (var child in node.Children.Values.Where(c => c.Class is null && c.Opaque is null))
            Classify(child, code, null, "its type is not named in its parent's code");
        node.Leaf = LeafConfig.Of(cls, out var why);
        if (node.Leaf is not null) return;
        if (why is not null)
        {
            node.Opaque = why;
            return;
        }
        node.Opaque = Check(cls, node);
    }

    /// <summary>Null when forward and the methods it calls on self are straight-line code this interpreter runs; else why not.</summary>
    private static string? Check(ScriptClass cls, ModuleNode node)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(["forward"]);
        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name)) continue;
            if (!cls.Methods.TryGetValue(name, out var method)) return $"{cls.Kind}.{name} is not in the archive's code";
            if (method.Unsupported is { } why) return $"{cls.Kind}.{name} has {why}";
            var locals = new HashSet<string>(method.Parameters, StringComparer.Ordinal);
            foreach (var statement in method.Body)
            {
                if (CheckExpr(statement.Value, locals, node, pending) is { } problem) return $"{cls.Kind}.{name}: {problem}";
                if (statement.Target is { } t) locals.Add(t);
            }
        }
        return null;
    }

    private static string? CheckExpr(Expr e, HashSet<string> locals, ModuleNode node, Stack<string> selfCalls)
    {
        switch (e)
        {
            case Const:
                return null;
            case ListExpr list:
                return list.Items.Select(i => CheckExpr(i, locals, node, selfCalls)).FirstOrDefault(p => p is not null);
            case Name n:
                return locals.Contains(n.Id) || Ops.Contains(n.Id) ? null : $"unknown name {n.Id}";
            case Attribute { Target: Name { Id: "self" } } a:
                return node.Children.ContainsKey(a.Name) || a.Name == "training" || node.Parameters.Any(p => p.Name == a.Name) || node.Buffers.ContainsKey(a.Name)
                    ? null : $"self.{a.Name} is not a submodule or tensor";
            case Attribute a when Dotted(a) is { } dotted && !locals.Contains(dotted.Split('.')[0]):
                return Ops.Contains(dotted) ? null : $"{dotted} is not an op this interpreter runs";
            case Attribute a:
                return CheckExpr(a.Target, locals, node, selfCalls);
            case Call call:
                var arguments = call.Args.Concat(call.Keywords.Select(k => k.Value)).ToList();
                switch (call.Function)
                {
                    case Attribute { Target: Name { Id: "self" }, Name: var method } when !node.Children.ContainsKey(method):
                        selfCalls.Push(method);
                        break;
                    case Attribute f when Dotted(f) is { } op && !locals.Contains(op.Split('.')[0]):
                        if (!Ops.Contains(op)) return $"{op} is not an op this interpreter runs";
                        break;
                    case Name { Id: var callee } when callee == "getattr" || locals.Contains(callee):
                        break;
                    case Attribute { Target: var target }:
                        arguments.Add(target);
                        break;
                    default:
                        return "unsupported call";
                }
                return arguments.Select(x => CheckExpr(x, locals, node, selfCalls)).FirstOrDefault(p => p is not null);
            default:
                return "unsupported expression";
        }
    }

    /// <summary>"torch.add" for the attribute chain torch.add; null if the chain does not start at a name.</summary>
    private static string? Dotted(Expr e) => e switch
    {
        Name n => n.Id,
        Attribute a => Dotted(a.Target) is { } t ? t + "." + a.Name : null,
        _ => null,
    };

    /// <summary>
    /// The model's forward on <paramref name="input"/>: its output, with each reported module call appended to
    /// <paramref name="calls"/> in the order they ran (null to report nothing).
    /// </summary>
    public object? Run(Tensor input, List<ModuleCall>? calls)
    {
        var run = new RunState(calls);
        return CallModule(Tree, "forward", [input], run);
    }

    private object? CallModule(ModuleNode node, string method, object?[] args, RunState run)
    {
        if (node.Leaf is { } leaf && method.StartsWith("forward", StringComparison.Ordinal))
        {
            var input = args is [Tensor x] ? x : throw new InvalidOperationException($"{node.Path}: expected one tensor argument");
            var output = leaf.Run(node, input);
            if (node.Parameters.Count > 0) run.Report(new ModuleCall(node, method, [input], output));
            return output;
        }
        if (node.Opaque is null && node.Class!.Methods.TryGetValue(method, out var code) && code.Unsupported is null)
            return Interpret(node, code, args, run);
        var own = args.Select(a => a is Tensor t && run.Reported.Contains(t) ? t.clone() : a).ToArray();
        var result = method == "forward" ? node.Module.call(own) : node.Module.invoke(method, own);
        if (node.HoldsParameters)
        {
            if (result is not Tensor tensorOut) throw new InvalidOperationException($"{node.Path}: a module run as itself returned a non-tensor");
            run.Report(new ModuleCall(node, method, own, tensorOut));
        }
        return result;
    }

    private object? Interpret(ModuleNode node, ScriptMethod method, object?[] args, RunState run)
    {
        if (args.Length != method.Parameters.Length - 1) throw new InvalidOperationException($"{node.Path}.{method.Name}: argument count");
        var locals = new Dictionary<string, object?>(StringComparer.Ordinal) { ["self"] = node };
        for (var i = 0; i < args.Length; i++) locals[method.Parameters[i + 1]] = args[i];
        foreach (var statement in method.Body)
        {
            var value = Eval(statement.Value, locals, run);
            if (statement.IsReturn) return value;
            if (statement.Target is { } target) locals[target] = value;
        }
        return null;
    }

    private object? Eval(Expr e, Dictionary<string, object?> locals, RunState run)
    {
        switch (e)
        {
            case Const c:
                return c.Value;
            case ListExpr list:
                return list.Items.Select(i => Eval(i, locals, run)).ToArray();
            case Name n:
                return locals.TryGetValue(n.Id, out var v) ? v : new Global(n.Id);
            case Attribute a:
                return Eval(a.Target, locals, run) switch
                {
                    ModuleNode m when m.Children.TryGetValue(a.Name, out var child) => child,
                    ModuleNode m when m.Parameters.FirstOrDefault(p => p.Name == a.Name).Tensor is { } p => p,
                    ModuleNode m when m.Buffers.TryGetValue(a.Name, out var b) => b,
                    ModuleNode when a.Name == "training" => false,
                    ModuleNode m => new BoundMethod(m, a.Name),
                    Global g => new Global(g.Name + "." + a.Name),
                    var other => throw new InvalidOperationException($"attribute {a.Name} of {other}"),
                };
            case Call call:
                var args = call.Args.Select(x => Eval(x, locals, run)).ToArray();
                var keywords = call.Keywords.ToDictionary(k => k.Name, k => Eval(k.Value, locals, run), StringComparer.Ordinal);
                return Eval(call.Function, locals, run) switch
                {
                    BoundMethod b when keywords.Count == 0 => CallModule(b.Module, b.Method, args, run),
                    Global g => Op(g.Name, args, keywords),
                    var other => throw new InvalidOperationException($"call of {other}"),
                };
            default:
                throw new InvalidOperationException($"expression {e}");
        }
    }

    private static object Op(string name, object?[] args, Dictionary<string, object?> keywords)
    {
        switch (name)
        {
            case "getattr" when args is [ModuleNode m, string child]:
                return m.Children[child];
            case "torch.add" or "torch.add_" when args is [Tensor a, Tensor b]:
                var alpha = keywords.GetValueOrDefault("alpha") ?? (args.Length > 2 ? args[2] : 1L);
                if (keywords.Keys.Any(k => k != "alpha") || alpha is not (1L or 1.0)) throw new InvalidOperationException("torch.add with alpha");
                return a + b;
            case "torch.flatten" when args is [Tensor x, long start] && keywords.Count == 0:
                return x.flatten(start);
            case "torch.flatten" when args is [Tensor x, long start, long end] && keywords.Count == 0:
                return x.flatten(start, end);
            case "torch.relu" or "torch.relu_" or "__torch__.torch.nn.functional.relu" when args is [Tensor x, ..]:
                return nn.functional.relu(x);
            default:
                throw new InvalidOperationException($"{name} with these arguments");
        }
    }

    public void Dispose()
    {
        foreach (var handle in _handles) handle.Dispose();
    }

    private sealed record Global(string Name);

    private sealed record BoundMethod(ModuleNode Module, string Method);

    private sealed class RunState(List<ModuleCall>? calls)
    {
        public HashSet<Tensor> Reported { get; } = new(ReferenceEqualityComparer.Instance);

        public void Report(ModuleCall call)
        {
            if (calls is null) return;
            calls.Add(call);
            foreach (var a in call.Inputs) if (a is Tensor t) Reported.Add(t);
            Reported.Add(call.Output);
        }
    }
}

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

    public string Kind => Class?.Kind ?? "module";

    public override string ToString() => Path.Length == 0 ? "(model)" : Path;
}

/// <summary>A reported call: a module with parameters and the tensors it took and gave, in the run's graph.</summary>
internal sealed record ModuleCall(ModuleNode Node, string Method, object?[] Inputs, Tensor Output);

/// <summary>A module run as functional ops: its kind and the constants of its class (header Finals, or the traced call's arguments).</summary>
internal sealed record LeafConfig(string Kind, long[] Stride, long[] Padding, long[] Dilation, long Groups, double Eps, long StartDim, long EndDim)
{
    public const string Conv2d = "Conv2d", Linear = "Linear", BatchNorm = "BatchNorm", Elementwise = "ReLU", Identity = "Identity", Flatten = "Flatten";

    /// <summary>The config of a known kind; null otherwise, with <paramref name="why"/> set when it is a known kind this cannot run.</summary>
    public static LeafConfig? Of(ScriptClass cls, out string? why)
    {
        why = null;
        var none = new LeafConfig("", [1, 1], [0, 0], [1, 1], 1, 1e-5, 1, -1);
        switch (cls.Kind)
        {
            case "Linear":
                return none with { Kind = Linear };
            case "ReLU":
                return none with { Kind = Elementwise };
            case "Identity" or "Dropout" or "Dropout1d" or "Dropout2d" or "AlphaDropout":
                return none with { Kind = Identity };
            case "Flatten" when cls.Finals.TryGetValue("start_dim", out var s) && s is long start && cls.Finals.TryGetValue("end_dim", out var e) && e is long end:
                return none with { Kind = Flatten, StartDim = start, EndDim = end };
            case "Conv2d" when cls.Pair("kernel_size") is not null:
                if (cls.Finals.GetValueOrDefault("padding_mode") is string mode && mode != "zeros") return Refuse($"padding_mode \"{mode}\"", out why);
                var padding = cls.Finals.GetValueOrDefault("padding") is "valid" ? [0, 0] : cls.Pair("padding");
                if (padding is null || cls.Pair("stride") is not { } stride || cls.Pair("dilation") is not { } dilation || cls.Finals.GetValueOrDefault("groups") is not long groups)
                    return Refuse("padding, stride, dilation or groups not read from its header", out why);
                return none with { Kind = Conv2d, Stride = stride, Padding = padding, Dilation = dilation, Groups = groups };
            case "Conv2d":
                // traced: torch._convolution(x, weight, bias, stride, padding, dilation, transposed, output_padding, groups, …)
                if (FindCall(cls, "torch._convolution") is not { Length: >= 9 } conv) return Refuse("no torch._convolution call in its code", out why);
                if (Pair(conv[3]) is not { } ts || Pair(conv[4]) is not { } tp || Pair(conv[5]) is not { } td || Lit(conv[6]) is not false || Lit(conv[8]) is not long g)
                    return Refuse("its torch._convolution call has arguments this does not read", out why);
                return none with { Kind = Conv2d, Stride = ts, Padding = tp, Dilation = td, Groups = g };
            case "BatchNorm2d" or "BatchNorm1d" when cls.Finals.ContainsKey("eps"):
                if (cls.Finals.GetValueOrDefault("track_running_stats") is false) return Refuse("no running statistics", out why);
                return cls.Finals["eps"] is double eps ? none with { Kind = BatchNorm, Eps = eps } : Refuse("eps not read from its header", out why);
            case "BatchNorm2d" or "BatchNorm1d":
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

    /// <summary>The module's forward on <paramref name="x"/> with its own parameters and buffers.</summary>
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
            _ => x.alias(),
        };
    }
}
