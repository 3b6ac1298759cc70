using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.ParamGrads;

/// <summary>
/// Per-sample parameter gradients: for each sample i, the gradient of CE(logitsᵢ, targetᵢ) with respect to the
/// model's parameters, as the squared L2 norm of each layer's gradient (weight and bias together) and, with a
/// projection, the whole flattened gradient times a Gaussian sketch (<see cref="GaussianSketch"/>).
/// <para>
/// One forward (the model's code interpreted, <see cref="ModuleProgram"/>) records each layer's input and output,
/// one backward of Σᵢ CEᵢ gives the gradient at every output, and <see cref="PerSampleRules"/> turn (input,
/// output gradient) into per-sample gradients for Conv2d, Linear and eval-mode BatchNorm. A layer of another
/// kind, or inside a module that runs as itself, falls back to a loop over samples for its unit alone. The
/// interpreted path is verified once, on the first batch (<see cref="Verify"/>): its logits against the model's own
/// forward, and its per-sample gradients of two rows against a per-sample loop over the model itself; if either
/// differs, or the code cannot be read or run, the whole model is one unit and every layer falls back, the reason in
/// its <see cref="ParameterLayer.How"/>. Nothing the reader or the interpreter does fails a job.
/// </para>
/// The model is this object's own copy, its parameters requiring gradients; the engine's shared model is not touched.
/// </summary>
public sealed partial class ParameterGradients : IDisposable
{
    private readonly jit.ScriptModule _module;
    private readonly ModuleProgram _program;
    private readonly GaussianSketch? _sketch;
    private readonly ModuleNode[] _selected;
    private readonly Dictionary<ModuleNode, int> _column;
    private readonly long _memoryBytes;
    private readonly Lock _lock = new();
    private ParameterLayer[] _layers;
    private string? _wholeModel; // why the whole model falls back; null while interpreted
    private bool _verified;
    private Func<Tensor, Tensor>? _distortForTests; // applied to each vectorised layer's squared norms: a wrong fast path

    private ParameterGradients(jit.ScriptModule module, ModuleProgram program, ModuleNode[] selected, GaussianSketch? sketch, Device device, long memoryBytes)
    {
        _module = module;
        _program = program;
        _selected = selected;
        _sketch = sketch;
        Device = device;
        _memoryBytes = memoryBytes;
        _column = selected.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
        _layers = [.. selected.Select(n => Describe(n, StaticFallback(n)))];
    }

    public Device Device { get; }

    /// <summary>
    /// The selected layers (modules that hold parameters), in module order, each with its parameter count and
    /// whether it is vectorised. Settled by the first <see cref="Compute"/> (verification); before it, the plan.
    /// </summary>
    public IReadOnlyList<ParameterLayer> Layers => _layers;

    /// <summary>Total parameters of the selected layers: the rows of the projection.</summary>
    public long TotalParameters => _selected.Sum(Count);

    /// <param name="localModelPath">A TorchScript file.</param>
    /// <param name="layers">Null or ["all"] for every module that holds parameters; else their dotted names.</param>
    /// <param name="projection">Also project each sample's flattened gradient to <c>Dims</c> dimensions (seeded sketch).</param>
    /// <param name="memoryBytes">Bound on the per-sample gradients formed at once (per layer, in chunks of samples), and on the kept sketch.</param>
    public static ParameterGradients Create(string localModelPath, Device device, IReadOnlyList<string>? layers = null,
        (int Dims, long Seed)? projection = null, long memoryBytes = 256L << 20) =>
        Create(localModelPath, device, layers, projection, memoryBytes, distortForTests: null);

    /// <param name="distortForTests">Applied to each vectorised layer's squared norms [n]: a fast path made wrong, which verification must catch.</param>
    internal static ParameterGradients Create(string localModelPath, Device device, IReadOnlyList<string>? layers,
        (int Dims, long Seed)? projection, long memoryBytes, Func<Tensor, Tensor>? distortForTests)
    {
        if (projection is { Dims: < 1 }) throw new ExplainException("param-grads projection dims must be at least 1");
        jit.ScriptModule module;
        try
        {
            module = jit.load(localModelPath, device);
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or IOException)
        {
            throw new ExplainException($"model {localModelPath} is not a TorchScript file that torch.jit.load can read ({ExplainModel.FirstLine(e.Message)})", e);
        }
        module.eval();
        foreach (var p in module.parameters()) p.requires_grad = true;
        var program = ModuleProgram.Build(localModelPath, module);
        try
        {
            var selected = Select(program, layers);
            var sketch = projection is { } p2 ? new GaussianSketch(p2.Dims, p2.Seed, device, memoryBytes) : null;
            return new ParameterGradients(module, program, selected, sketch, device, memoryBytes) { _distortForTests = distortForTests };
        }
        catch
        {
            program.Dispose();
            module.Dispose();
            throw;
        }
    }

    private static ModuleNode[] Select(ModuleProgram program, IReadOnlyList<string>? layers)
    {
        var all = program.Nodes;
        if (layers is null || layers is ["all"]) return [.. all];
        var known = all.ToDictionary(n => n.Path, StringComparer.Ordinal);
        foreach (var name in layers)
        {
            if (known.ContainsKey(name)) continue;
            var some = string.Join(", ", all.Take(6).Select(n => $"\"{n.Path}\"")) + (all.Count > 6 ? $", … ({all.Count} in all)" : "");
            throw new ExplainException($"unknown param-grads layer \"{name}\": use \"all\" or names of modules that hold parameters ({some})");
        }
        var wanted = new HashSet<string>(layers, StringComparer.Ordinal);
        return [.. all.Where(n => wanted.Contains(n.Path))];
    }

    private static long Count(ModuleNode node) => node.Parameters.Sum(p => p.Tensor.numel());

    private static ParameterLayer Describe(ModuleNode node, string? fallback) =>
        new(node.Path, Count(node), fallback is null, fallback is null ? $"{node.Kind}, vectorised" : $"{node.Kind}, per-sample loop: {fallback}");

    /// <summary>Why <paramref name="node"/> falls back as the code reads; null when it runs as a vectorised leaf.</summary>
    private string? StaticFallback(ModuleNode node)
    {
        var path = new List<ModuleNode>();
        for (var n = _program.Tree; ; )
        {
            path.Add(n);
            if (n == node) break;
            var rest = node.Path[(n.Path.Length == 0 ? 0 : n.Path.Length + 1)..];
            n = n.Children[rest.Split('.')[0]];
        }
        if (path.FirstOrDefault(n => n != node && n.Opaque is not null) is { } outer)
            return $"inside \"{outer}\", which runs as itself ({outer.Opaque})";
        if (PerSampleRules.Handles(node.Leaf)) return null;
        return node.Opaque ?? $"no vectorised rule for {node.Kind}";
    }

    /// <summary>
    /// Per-sample gradients of CE(logitsᵢ, targetsᵢ) for a batch: squared L2 norms per selected layer [n, L]
    /// (float32, layer order of <see cref="Layers"/>) and, with a projection, the projected gradients [n, D]
    /// (float32). Call inside a dispose scope; the results belong to it.
    /// </summary>
    public ParameterGradientResult Compute(Tensor input, Tensor targets)
    {
        var x = input.to(Device);
        var y = targets.to(Device);
        Verify(x, y);
        if (_wholeModel is null)
        {
            try
            {
                return Run(x, y, interpreted: true);
            }
            catch (Exception e) when (IsInterpretationFailure(e))
            {
                lock (_lock) FallBack($"the interpreted path failed on a later batch ({e.GetType().Name}: {ExplainModel.FirstLine(e.Message)})");
            }
        }
        return Run(x, y, interpreted: false);
    }

    /// <summary>One batch through the interpreted program (layers as units) or through the model itself (one unit).</summary>
    private ParameterGradientResult Run(Tensor x, Tensor y, bool interpreted)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var n = x.shape[0];
        var calls = new List<ModuleCall>();
        Tensor logits;
        if (interpreted) logits = _program.Run(x, calls) as Tensor ?? throw new InvalidOperationException("the interpreted forward gave no tensor");
        else
        {
            logits = (Tensor)_module.call(x);
            calls.Add(new ModuleCall(_program.Tree, "forward", [x], logits));
        }
        var norms = zeros([n, _selected.Length], ScalarType.Float32, Device);
        var projected = _sketch is null ? null : zeros([n, _sketch.Dims], ScalarType.Float32, Device);
        var units = calls.Where(c => Covered(c, interpreted).Any(_column.ContainsKey)).ToList();
        if (units.Count > 0)
        {
            var loss = nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum);
            var outputGrads = Gradients.Of("the loss", [loss], [.. units.Select(u => u.Output)], allowUnused: true);
            for (var u = 0; u < units.Count; u++)
            {
                var g = outputGrads[u] ?? zeros_like(units[u].Output);
                if (interpreted && PerSampleRules.Handles(units[u].Node.Leaf)) Vectorised(units[u], g, norms, projected);
                else PerSample(units[u], g, interpreted, norms, projected);
            }
        }
        return new ParameterGradientResult(norms.MoveToOuterDisposeScope(), projected?.MoveToOuterDisposeScope());
    }

    /// <summary>The explicit projection P [total parameters, D] of the selected layers (small models: checks).</summary>
    public Tensor ProjectionMatrix()
    {
        if (_sketch is null) throw new InvalidOperationException("no projection");
        return cat(_selected.Select(n => _sketch.Block(n.Path, Count(n))).ToList(), 0);
    }

    private IEnumerable<ModuleNode> Covered(ModuleCall call, bool interpreted) =>
        call.Node.Leaf is not null && interpreted ? [call.Node] : _program.Nodes.Where(n => Within(n, call.Node));

    private static bool Within(ModuleNode node, ModuleNode unit) =>
        unit.Path.Length == 0 || node.Path == unit.Path || node.Path.StartsWith(unit.Path + ".", StringComparison.Ordinal);

    private void Vectorised(ModuleCall call, Tensor g, Tensor norms, Tensor? projected)
    {
        var node = call.Node;
        var a = ((Tensor)call.Inputs[0]!).detach();
        var column = _column[node];
        if (projected is null && PerSampleRules.SquaredNorms(node, a, g) is { } direct)
        {
            norms[.., column] = _distortForTests?.Invoke(direct) ?? direct;
            return;
        }
        var n = a.shape[0];
        var chunk = Math.Max(1, _memoryBytes / PerSampleRules.BytesPerSample(node, a, g));
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(chunk, n - start);
            Accumulate(node, start, PerSampleRules.Rows(node, a, g, start, count), norms, projected);
        }
        if (_distortForTests is { } distort) norms[.., column] = distort(norms[.., column]);
    }

    /// <summary>The fallback: each sample through the unit alone, its output gradient row back to the unit's selected parameters.</summary>
    private void PerSample(ModuleCall call, Tensor g, bool interpreted, Tensor norms, Tensor? projected)
    {
        var layers = Covered(call, interpreted).Where(_column.ContainsKey).ToList();
        var parameters = layers.SelectMany(l => l.Parameters.Select(p => p.Tensor)).ToList();
        var n = g.shape[0];
        var perSample = layers.Sum(Count) * sizeof(float) * 2;
        var chunk = Math.Max(1, _memoryBytes / Math.Max(1, perSample));
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(chunk, n - start);
            var rows = new List<Tensor>[layers.Count];
            for (var l = 0; l < layers.Count; l++) rows[l] = [];
            for (var i = start; i < start + count; i++)
            {
                using var sample = NewDisposeScope();
                var args = call.Inputs.Select(v => v is Tensor t ? t.narrow(0, i, 1).detach() : v).ToArray();
                var output = call.Method == "forward" ? call.Node.Module.call(args) : call.Node.Module.invoke(call.Method, args);
                var grads = Gradients.Of("a layer's output", [(Tensor)output], parameters, [g.narrow(0, i, 1)], allowUnused: true);
                var k = 0;
                for (var l = 0; l < layers.Count; l++)
                {
                    var flat = layers[l].Parameters.Select(p => grads[k++] is { } pg ? pg.reshape(1, -1) : zeros([1, p.Tensor.numel()], device: Device)).ToList();
                    rows[l].Add(cat(flat, 1).MoveToOuterDisposeScope());
                }
            }
            for (var l = 0; l < layers.Count; l++) Accumulate(layers[l], start, [cat(rows[l], 0)], norms, projected);
        }
    }

    /// <summary>
    /// Adds samples [start, start + count) of one layer: <paramref name="parts"/> are its per-sample gradients
    /// [count, …], one after another in the layer's flattened order (one per parameter, or the whole layer).
    /// </summary>
    private void Accumulate(ModuleNode node, long start, IReadOnlyList<Tensor> parts, Tensor norms, Tensor? projected)
    {
        var count = parts[0].shape[0];
        Tensor? squares = null;
        foreach (var part in parts)
        {
            var norm = linalg.vector_norm(part, 2, [.. Enumerable.Range(1, (int)part.dim() - 1).Select(d => (long)d)]).Squared(); // rooted Scalars (Scalars)
            squares = squares is null ? norm : squares.Accumulate(norm);
        }
        norms[TensorIndex.Slice(start, start + count), _column[node]] = squares!;
        if (projected is null) return;
        var sum = projected.narrow(0, start, count);
        var (offset, total) = (0L, Count(node));
        foreach (var part in parts)
        {
            var flat = part.reshape(count, -1);
            var end = offset + flat.shape[1];
            for (var chunk = offset / GaussianSketch.ChunkRows; chunk * GaussianSketch.ChunkRows < end; chunk++)
            {
                var first = chunk * GaussianSketch.ChunkRows;
                var (from, to) = (Math.Max(offset, first), Math.Min(end, first + GaussianSketch.ChunkRows));
                var sketch = _sketch!.Rows(node.Path, chunk, Math.Min(GaussianSketch.ChunkRows, total - first));
                sum.Accumulate(flat.narrow(1, from - offset, to - from).matmul(sketch.narrow(0, from - first, to - from)));
            }
            offset = end;
        }
    }

    public void Dispose()
    {
        _sketch?.Dispose();
        _program.Dispose();
        _module.Dispose();
    }
}

/// <summary>A selected layer: its module name, parameter count, and whether it is vectorised (else why it loops over samples).</summary>
public sealed record ParameterLayer(string Name, long Parameters, bool Vectorised, string How);

/// <summary>Squared L2 norms per sample and layer [n, L] (float32), and the projected gradients [n, D] (float32) when asked.</summary>
public sealed record ParameterGradientResult(Tensor SquaredNorms, Tensor? Projected);
