using ExplainCluster.Engine.Methods;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>Running the program: the interpreter of the parsed code, its ops, and the aliasing rules of in-place ops.</summary>
internal sealed partial class ModuleProgram
{
    /// <summary>
    /// The model's forward on <paramref name="input"/>: its output, with each reported module call appended to
    /// <paramref name="calls"/> in the order they ran (null to report nothing). Code this interpreter cannot run
    /// throws <see cref="InvalidOperationException"/> (or whatever libtorch throws); the caller falls back.
    /// </summary>
    public object? Run(Tensor input, List<ModuleCall>? calls)
    {
        var run = new RunState(calls);
        run.Protected.Add(input); // the caller's batch: an in-place op of the model must not write into it
        return CallModule(Tree, "forward", [input], run);
    }

    private object? CallModule(ModuleNode node, string method, object?[] args, RunState run)
    {
        if (node.Leaf is { } leaf && method.StartsWith("forward", StringComparison.Ordinal))
        {
            var input = args is [Tensor x] ? x : throw new InvalidOperationException($"{node.Path}: expected one tensor argument");
            if (leaf.InPlace) return run.InPlace(input, t => leaf.Run(node, t), t => t.relu_());
            var output = leaf.Run(node, input);
            if (node.Parameters.Count > 0) run.Report(new ModuleCall(node, method, [input], output));
            else if (leaf.Kind == LeafConfig.Flatten) run.Derived(output, input);
            return output;
        }
        if (node.Opaque is null && node.Class!.Methods.TryGetValue(method, out var code) && code.Unsupported is null)
            return Interpret(node, code, args, run);
        // Run as itself: it gets its own copy of any tensor that was reported (or is a view of one), which it may write into.
        var own = args.Select(a => a is Tensor t && run.Guarded(t) ? t.clone() : a).ToArray();
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
        run.Frames.Add(locals);
        try
        {
            foreach (var statement in method.Body)
            {
                var value = Eval(statement.Value, locals, run);
                if (statement.IsReturn) return value;
                if (statement.Targets is [var target]) locals[target] = value;
                else if (statement.Targets.Length > 1)
                {
                    if (value is not object?[] tuple || tuple.Length != statement.Targets.Length)
                        throw new InvalidOperationException($"{node.Path}.{method.Name}: unpacking {statement.Targets.Length} names from {value}");
                    for (var i = 0; i < tuple.Length; i++) locals[statement.Targets[i]] = tuple[i];
                }
            }
            return null;
        }
        finally
        {
            run.Frames.RemoveAt(run.Frames.Count - 1);
        }
    }

    private object? Eval(Expr e, Dictionary<string, object?> locals, RunState run)
    {
        switch (e)
        {
            case Const c:
                return c.Value;
            case ListExpr list:
                return EvalAll(list.Items, locals, run);
            case Name n:
                return locals.TryGetValue(n.Id, out var v) ? v : new Global(n.Id);
            case Attribute a:
                return Eval(a.Target, locals, run) switch
                {
                    ModuleNode m when m.Children.TryGetValue(a.Name, out var child) => child,
                    ModuleNode m when m.Buffers.TryGetValue(a.Name, out var b) => b,
                    ModuleNode when a.Name == "training" => false,
                    ModuleNode m => new BoundMethod(m, a.Name),
                    Global g => new Global(g.Name + "." + a.Name),
                    var other => throw new InvalidOperationException($"attribute {a.Name} of {other}"),
                };
            case Call call:
                var function = Eval(call.Function, locals, run);
                var values = EvalAll([.. call.Args, .. call.Keywords.Select(k => k.Value)], locals, run);
                var args = values[..call.Args.Length];
                var keywords = call.Keywords.Select((k, i) => (k.Name, Value: values[call.Args.Length + i])).ToDictionary(k => k.Name, k => k.Value, StringComparer.Ordinal);
                return function switch
                {
                    BoundMethod b when keywords.Count == 0 => CallModule(b.Module, b.Method, args, run),
                    Global g => Op(g.Name, args, keywords, run),
                    var other => throw new InvalidOperationException($"call of {other}"),
                };
            default:
                throw new InvalidOperationException($"expression {e}");
        }
    }

    /// <summary>Values left to right, in an array the in-place rule can see while the later ones are evaluated.</summary>
    private object?[] EvalAll(Expr[] items, Dictionary<string, object?> locals, RunState run)
    {
        var values = new object?[items.Length];
        run.Pending.Add(values);
        try
        {
            for (var i = 0; i < items.Length; i++) values[i] = Eval(items[i], locals, run);
        }
        finally
        {
            run.Pending.RemoveAt(run.Pending.Count - 1);
        }
        return values;
    }

    private static object Op(string name, object?[] args, Dictionary<string, object?> keywords, RunState run)
    {
        switch (name)
        {
            case "getattr" when args is [ModuleNode m, string child] && m.Children.TryGetValue(child, out var found):
                return found;
            case "torch.add" or "torch.add_" or "torch.sub" or "torch.sub_" when args is [Tensor a, var b, ..] && args.Length <= 3:
            {
                var alpha = Number(keywords.GetValueOrDefault("alpha") ?? (args.Length > 2 ? args[2] : 1L));
                if (keywords.Keys.Any(k => k != "alpha") || alpha is null) break;
                // a − α·b is a + (−α)·b, exactly.
                var signed = name.StartsWith("torch.sub", StringComparison.Ordinal) ? -alpha.Value : alpha.Value;
                if (b is not Tensor && Number(b) is null) break;
                // α (or the number α·b) is held until the sum is made: a temporary Scalar can be freed mid-call (Scalars).
                using var scale = (b is Tensor ? signed : Number(b)!.Value * signed).ToScalar();
                Func<Tensor, Tensor> outOfPlace, inPlace;
                if (b is Tensor tb) (outOfPlace, inPlace) = (t => t.add(tb, scale), t => t.add_(tb, scale));
                else (outOfPlace, inPlace) = (t => t.add(scale, Scalars.One), t => t.add_(scale, Scalars.One));
                return name.EndsWith('_') ? run.InPlace(a, outOfPlace, inPlace) : outOfPlace(a);
            }
            case "torch.mul" or "torch.mul_" when args is [Tensor a, Tensor b] && keywords.Count == 0:
                return name == "torch.mul_" ? run.InPlace(a, t => t.mul(b), t => t.mul_(b)) : a.mul(b);
            case "torch.mul" or "torch.mul_" when args is [Tensor a, var b] && Number(b) is { } factor && keywords.Count == 0:
            {
                using var scalar = factor.ToScalar(); // held until the product is made (Scalars)
                return name == "torch.mul_" ? run.InPlace(a, t => t.mul(scalar), t => t.mul_(scalar)) : a.mul(scalar);
            }
            case "torch.neg" when args is [Tensor x] && keywords.Count == 0:
                return x.neg();
            case "torch.flatten" when args is [Tensor x, long start, ..] && args.Length <= 3 && keywords.Count == 0:
                var flat = args is [_, _, long end] ? x.flatten(start, end) : x.flatten(start);
                run.Derived(flat, x);
                return flat;
            case "torch.relu" or "torch.relu_" or "__torch__.torch.nn.functional.relu" when args is [Tensor x, ..] && args.Length <= 2:
                var inplace = name == "torch.relu_" || (args.Length == 2 ? args[1] : keywords.GetValueOrDefault("inplace")) is true;
                return inplace ? run.InPlace(x, t => nn.functional.relu(t), t => t.relu_()) : nn.functional.relu(x);
        }
        throw new InvalidOperationException($"{name} with these arguments");
    }

    /// <summary>A Python number as a double; null for anything else (bools are not numbers here).</summary>
    private static double? Number(object? v) => v switch
    {
        long l => l,
        double d => d,
        _ => null,
    };

    private sealed record Global(string Name);

    private sealed record BoundMethod(ModuleNode Module, string Method);

    /// <summary>
    /// One run's bookkeeping. Reported tensors (a layer's input and output, and the model's input) are protected:
    /// the per-sample rules read them after the run, and autograd differentiates with respect to them. An in-place op
    /// on a protected tensor computes out of place and rebinds every name, tuple and pending argument that held the
    /// tensor to the result, which is what aliasing means to the code; on any other tensor it runs in place. Views of
    /// protected tensors made by the interpreter are tracked: an in-place op that would write through one is refused
    /// (the caller falls back), since rebinding cannot reach the tensor it views.
    /// </summary>
    private sealed class RunState(List<ModuleCall>? calls)
    {
        public HashSet<Tensor> Protected { get; } = new(ReferenceEqualityComparer.Instance);

        /// <summary>View → the protected tensor it views.</summary>
        public Dictionary<Tensor, Tensor> Views { get; } = new(ReferenceEqualityComparer.Instance);

        public List<Dictionary<string, object?>> Frames { get; } = [];

        public List<object?[]> Pending { get; } = [];

        public void Report(ModuleCall call)
        {
            calls?.Add(call);
            foreach (var a in call.Inputs) if (a is Tensor t) Protected.Add(t);
            Protected.Add(call.Output);
        }

        /// <summary>Whether <paramref name="t"/> is protected or a view of a protected tensor.</summary>
        public bool Guarded(Tensor t) => Protected.Contains(t) || Views.ContainsKey(t);

        /// <summary>Notes <paramref name="result"/> as a possible view of <paramref name="source"/> when that is guarded.</summary>
        public void Derived(Tensor result, Tensor source)
        {
            if (ReferenceEquals(result, source) || !Guarded(source)) return;
            Views[result] = Views.TryGetValue(source, out var base_) ? base_ : source;
        }

        public Tensor InPlace(Tensor target, Func<Tensor, Tensor> outOfPlace, Func<Tensor, Tensor> inPlace)
        {
            if (Views.ContainsKey(target) || Views.ContainsValue(target))
                throw new InvalidOperationException("an in-place op writes through a view of a layer's input or output");
            if (!Protected.Contains(target)) return inPlace(target);
            var result = outOfPlace(target);
            foreach (var frame in Frames)
                foreach (var (name, value) in frame.ToList())
                {
                    if (ReferenceEquals(value, target)) frame[name] = result;
                    else if (value is object?[] items) Rebind(items, target, result);
                }
            foreach (var values in Pending) Rebind(values, target, result);
            return result;
        }

        private static void Rebind(object?[] items, Tensor from, Tensor to)
        {
            for (var i = 0; i < items.Length; i++)
            {
                if (ReferenceEquals(items[i], from)) items[i] = to;
                else if (items[i] is object?[] inner) Rebind(inner, from, to);
            }
        }
    }
}
