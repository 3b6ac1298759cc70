using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// A TorchScript model's forward run in C# from the code its archive holds (<see cref="ScriptCode"/>), so that
/// each module's input and output can be seen — TorchSharp cannot hook inside a script module. Containers whose
/// forward is straight-line code (nn.Sequential, torchvision's ResNet and its blocks, scripted or traced) are
/// interpreted; PyTorch's own Conv2d, Linear and BatchNorm2d/1d (known by qualified class, <see cref="LeafConfig"/>)
/// run as functional ops on the module's own parameters and are reported to the caller with their input and output;
/// its ReLU, Identity, Dropout (eval) and Flatten run as their ops; any other module runs as itself
/// (<c>jit.ScriptModule.call</c>), and is reported when it holds parameters. In-place ops keep their meaning
/// (<see cref="RunState.InPlace"/>) without overwriting what was reported.
/// <para>
/// Reading is total: code the reader cannot parse or interpret makes the module concerned run as itself, with the
/// reason in <see cref="ModuleNode.Opaque"/>; an archive whose code cannot be read at all makes the whole model run as itself.
/// </para>
/// </summary>
internal sealed partial class ModuleProgram : IDisposable
{
    private static readonly HashSet<string> Ops = new(StringComparer.Ordinal)
    {
        "torch.add", "torch.add_", "torch.sub", "torch.sub_", "torch.mul", "torch.mul_", "torch.neg", "torch.flatten",
        "torch.relu", "torch.relu_", "__torch__.torch.nn.functional.relu", "getattr",
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
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The reader's own failure, whatever it is, is a reason to run the model as itself, never a failed job.
            code = null;
            unreadable = $"the archive's code cannot be read ({e.GetType().Name}: {ExplainModel.FirstLine(e.Message)})";
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
        try
        {
            Classify(nodes[""], code, code?.Root, unreadable);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            foreach (var node in nodes.Values) (node.Leaf, node.Opaque) = (null, $"the reader failed on the archive's code ({e.GetType().Name}: {ExplainModel.FirstLine(e.Message)})");
        }
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
        if (cls.Problem is { } problem)
        {
            node.Opaque = $"{node.Kind} has {problem}";
            return;
        }
        node.Leaf = LeafConfig.Of(cls, out var why);
        if (node.Leaf is not null) return;
        if (why is not null) node.Opaque = why;
        // Parameters of its own used by its code: no layer call would report them, so the module is the unit.
        else if (node.Parameters.Count > 0) node.Opaque = "its own parameters are used by its code, not by a layer this runs";
        // A container without forward (ModuleList, ModuleDict) is never called: its children are, one by one.
        else if (cls.Methods.ContainsKey("forward")) node.Opaque = Check(cls, node);
    }

    /// <summary>Null when forward and the methods it calls on self are straight-line code this interpreter runs; else why not.</summary>
    private static string? Check(ScriptClass cls, ModuleNode node)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(["forward"]);
        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name)) continue;
            if (!cls.Methods.TryGetValue(name, out var method)) return $"{node.Kind}.{name} is not in the archive's code";
            if (method.Unsupported is { } why) return $"{node.Kind}.{name} has {why}";
            var locals = new HashSet<string>(method.Parameters, StringComparer.Ordinal);
            foreach (var statement in method.Body)
            {
                if (CheckExpr(statement.Value, locals, node, pending) is { } problem) return $"{node.Kind}.{name}: {problem}";
                locals.UnionWith(statement.Targets);
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
                return node.Children.ContainsKey(a.Name) || a.Name == "training" || node.Buffers.ContainsKey(a.Name)
                    ? null : $"self.{a.Name} is not a submodule or buffer";
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

    public void Dispose()
    {
        foreach (var handle in _handles) handle.Dispose();
    }
}
