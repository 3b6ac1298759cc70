using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.ParamGrads;

/// <summary>The once-per-model check that decides whether the interpreted path is trusted, and the fallback it leads to.</summary>
public sealed partial class ParameterGradients
{
    /// <summary>Rows of the first batch whose logits the interpreted forward must reproduce.</summary>
    private const int LogitRows = 4;

    /// <summary>Rows of the first batch whose per-sample gradients the interpreted path must reproduce.</summary>
    private const int GradientRows = 2;

    /// <summary>
    /// Relative tolerance of a row's layer squared norm against the loop's: float32 on both sides in other summation
    /// orders (measured on CPU: under 1e-5); on CUDA, ten times more, since libtorch's convolutions may run in TF32
    /// (10-bit mantissa), both the rule's and autograd's. A wrong path is off by far more: a factor, a missing term.
    /// </summary>
    private double GradientRtol => Device.type == DeviceType.CUDA ? 1e-2 : 1e-3;

    /// <summary>
    /// Once per model, on the first rows of the first batch. The interpreted forward must give the model's own logits
    /// (allclose rtol 1e-4, atol 1e-5), run each layer at most once, and give the per-sample gradients of
    /// <see cref="GradientRows"/> rows that a loop over those rows through the model's own forward and autograd gives:
    /// every selected layer's squared norm within <see cref="GradientRtol"/> of the loop's, and the projection likewise.
    /// A batch of no rows verifies nothing; the next one does.
    /// The gradients are taken against each row's least likely class, so that they are large wherever the model
    /// lets them be (the rules do not depend on the target; a confident row's own label gives gradients near zero,
    /// which would let a wrong path pass). Any difference or failure makes the whole model one unit.
    /// </summary>
    private void Verify(Tensor x, Tensor y)
    {
        lock (_lock)
        {
            if (_verified || x.shape[0] == 0) return;
            using var scope = NewDisposeScope();
            var probe = x.narrow(0, 0, Math.Min(LogitRows, x.shape[0]));
            Tensor expected;
            using (no_grad())
            {
                expected = _module.call(probe) as Tensor
                    ?? throw new ExplainException("param-grads: the model's forward does not return one tensor of logits");
            }
            var calls = new List<ModuleCall>();
            var reason = Attempt("the interpreted forward", () =>
            {
                using var noGrad = no_grad();
                var actual = _program.Run(probe, calls) as Tensor;
                return actual is null || !actual.shape.SequenceEqual(expected.shape) || !actual.allclose(expected, rtol: 1e-4, atol: 1e-5)
                    ? "the interpreted forward does not give the model's logits" : null;
            });
            if (reason is null && calls.SelectMany(c => Covered(c, interpreted: true)).GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } twice)
                reason = $"module \"{twice.Key}\" runs more than once in forward";
            if (reason is null)
            {
                var rows = (int)Math.Min(GradientRows, x.shape[0]);
                var (rowsX, rowsY) = (x.narrow(0, 0, rows), expected.narrow(0, 0, rows).argmin(1));
                reason = Attempt("the interpreted gradients", () => GradientDifference(Run(rowsX, rowsY, interpreted: true), Reference(rowsX, rowsY)));
            }
            if (reason is not null) FallBack(reason);
            else
            {
                var units = calls.SelectMany(c => Covered(c, interpreted: true).Select(n => (n, c))).ToDictionary(p => p.n, p => p.c);
                _layers = [.. _selected.Select(n => !units.TryGetValue(n, out var c) ? Describe(n, "not run by forward (gradient zero)")
                    : Describe(n, c.Node == n && PerSampleRules.Handles(n.Leaf) ? null : StaticFallback(n) ?? $"runs inside \"{c.Node}\""))];
            }
            _verified = true;
        }
    }

    /// <summary>From now on the whole model is one unit: every layer loops over samples, saying why.</summary>
    private void FallBack(string reason)
    {
        _wholeModel = reason;
        _layers = [.. _selected.Select(n => Describe(n, $"whole model as one unit: {reason}"))];
    }

    /// <summary>Anything the interpreted path throws is a reason to fall back, never a failed job (a cancellation or lack of memory is not its doing).</summary>
    private static bool IsInterpretationFailure(Exception e) => e is not (OutOfMemoryException or OperationCanceledException or ExplainException);

    private static string? Attempt(string what, Func<string?> check)
    {
        try
        {
            return check();
        }
        catch (Exception e) when (IsInterpretationFailure(e))
        {
            return $"{what} failed ({e.GetType().Name}: {ExplainModel.FirstLine(e.Message)})";
        }
    }

    /// <summary>
    /// The independent path: each row alone through the model's own forward, CE against its target, autograd.grad with
    /// respect to the selected layers' parameters; accumulated into norms (and the projection) as the fast path does.
    /// </summary>
    private ParameterGradientResult Reference(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var n = x.shape[0];
        var norms = zeros([n, _selected.Length], ScalarType.Float32, Device);
        var projected = _sketch is null ? null : zeros([n, _sketch.Dims], ScalarType.Float32, Device);
        var parameters = _selected.SelectMany(l => l.Parameters.Select(p => p.Tensor)).ToList();
        for (var i = 0L; i < n; i++)
        {
            using var row = NewDisposeScope();
            var logits = (Tensor)_module.call(x.narrow(0, i, 1));
            var loss = nn.functional.cross_entropy(logits, y.narrow(0, i, 1), reduction: nn.Reduction.Sum);
            var grads = Gradients.Of("the loss", [loss], parameters, allowUnused: true);
            var k = 0;
            foreach (var layer in _selected)
            {
                var parts = layer.Parameters.Select(p => (grads[k++] ?? zeros_like(p.Tensor)).unsqueeze(0)).ToList();
                Accumulate(layer, i, parts, norms, projected);
            }
        }
        return new ParameterGradientResult(norms.MoveToOuterDisposeScope(), projected?.MoveToOuterDisposeScope());
    }

    /// <summary>Null when <paramref name="fast"/> agrees with <paramref name="loop"/>; else the first disagreement, in words.</summary>
    private string? GradientDifference(ParameterGradientResult fast, ParameterGradientResult loop)
    {
        var (f, e) = (fast.SquaredNorms.to(ScalarType.Float64), loop.SquaredNorms.to(ScalarType.Float64));
        // Per entry: |f − e| ≤ rtol·|e| + rtol·1e-3·(the row's largest layer) + 1e-30 (a layer whose gradient is zero).
        var allowed = e.abs().Times(GradientRtol).Plus(e.amax([1], keepdim: true).Times(GradientRtol * 1e-3)).Plus(1e-30); // rooted Scalars (Scalars)
        var excess = ((f - e).abs() - allowed).max().item<double>();
        if (excess > 0 || !f.isfinite().all().item<bool>())
        {
            var worst = ((f - e).abs() / allowed).flatten().argmax().item<long>();
            var (row, column) = (worst / _selected.Length, worst % _selected.Length);
            return $"the vectorised gradients of the first rows differ from a per-sample loop (row {row}, layer \"{_selected[column].Path}\": " +
                $"squared norm {f[row, column].item<double>():G6}, loop {e[row, column].item<double>():G6})";
        }
        if (fast.Projected is { } fp && loop.Projected is { } lp)
        {
            var (a, b) = (fp.to(ScalarType.Float64), lp.to(ScalarType.Float64));
            var scale = linalg.vector_norm(b, 2, [1L], keepdim: true).Plus(1e-30);
            if (((a - b).abs() / scale).max().item<double>() > GradientRtol)
                return "the vectorised projection of the first rows differs from a per-sample loop";
        }
        return null;
    }
}
