using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>The fixtures of tools/make_models.py and their weights, for computing expected values by hand.</summary>
public static class TinyModels
{
    public static readonly float[,] LinearW = { { 1, -2, 3, -4 }, { 0.5f, 0.5f, -1, 2 }, { -3, 1, 0, 1 } };
    public static readonly float[] LinearB = [0.1f, -0.2f, 0.3f];

    /// <summary>Conv 1×1: channel 0 = x, channel 1 = 0.5 − x; head W[c, k·9 + p] = (18c + 9k + p)/10 − 1.5.</summary>
    public static float HeadW(int c, int k, int p) => (18 * c + 9 * k + p) / 10f - 1.5f;

    public static readonly float[] HeadB = [0.25f, -0.25f];

    public static ExplainModel Load(string name) => ExplainModel.Load(TestPaths.Fixture(name), CPU, name);

    public static float[] Attribute(IAttributionMethod method, ExplainModel model, Tensor input, long[]? labels = null) =>
        Run(method, model, input, labels).Maps;

    /// <summary>One batch through a method as a shard runs it: rows are dataset indices <paramref name="firstIndex"/>.., at most <paramref name="maxRows"/> rows per pass.</summary>
    public static (float[] Maps, float[][] Columns) Run(
        IAttributionMethod method, ExplainModel model, Tensor input, long[]? labels = null, long firstIndex = 0, int maxRows = 256, BatchSegments? segments = null)
    {
        using var scope = NewDisposeScope();
        var split = method.Layer is null ? null : model.Split(method.Layer);
        var batch = GradientBatch.Compute(model, input, labels is null ? null : tensor(labels), split, needGradients: true);
        var indices = Enumerable.Range(0, (int)input.shape[0]).Select(i => firstIndex + i).ToArray();
        var output = method.Attribute(new MethodBatch(model, batch, indices, maxRows, segments));
        return (output.Maps.contiguous().data<float>().ToArray(), [.. output.Columns.Select(c => c.data<float>().ToArray())]);
    }

    /// <summary>tiny_flat.pt (tools/make_lime_fixture.py): Flatten + Linear(16, 2) on [1, 4, 4], W[c, p] = (16c + p)/8 − 2.</summary>
    public static float FlatW(int c, int p) => (16 * c + p) / 8f - 2f;

    public static readonly float[] FlatB = [0.5f, -0.5f];

    /// <summary>The same <paramref name="rows"/> × <paramref name="cols"/> grid for <paramref name="n"/> images of h × w: segment ids [n, h, w].</summary>
    public static BatchSegments Grid(int n, int h, int w, int rows, int cols)
    {
        var one = new int[h * w];
        var k = new ExplainCluster.Engine.Segmentation.Grid(rows, cols).Segment(new float[h * w], 1, h, w, one);
        var labels = Enumerable.Repeat(one, n).SelectMany(l => l).Select(l => (long)l).ToArray();
        return new BatchSegments(tensor(labels, [n, h, w]), [.. Enumerable.Repeat(k, n)]);
    }

    /// <summary>Activations of the tiny CNN's ReLU layer: A[k, p].</summary>
    public static float[,] Activations(float[] x)
    {
        var a = new float[2, 9];
        for (var p = 0; p < 9; p++)
        {
            a[0, p] = Math.Max(0, x[p]);
            a[1, p] = Math.Max(0, 0.5f - x[p]);
        }
        return a;
    }

    public static float[] CnnLogits(float[] x)
    {
        var a = Activations(x);
        var logits = new float[2];
        for (var c = 0; c < 2; c++)
        {
            logits[c] = HeadB[c];
            for (var k = 0; k < 2; k++)
                for (var p = 0; p < 9; p++) logits[c] += HeadW(c, k, p) * a[k, p];
        }
        return logits;
    }
}
