using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Tests.Data;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// Tables' coalition games computed here by plain loops, independently of the engine's players: the interventional value
/// v(S) = mean over background rows b of f(x_S, b_S̄) for every coalition, and the Shapley values enumerated from them.
/// </summary>
public static class TableGames
{
    /// <summary>The linear fixture: logits = W v + bias over v = [a, (b − 1) / 2, c=x, c=y, c=z] (tools/make_tabular_fixtures.py).</summary>
    public static readonly double[][] LinearW = [[1, -2, 0.5, -1, 3], [-1, 0.25, 2, 0, -0.5]];

    /// <summary>The linear fixture's six rows as the model receives them.</summary>
    public static readonly float[][] LinearRows =
    [
        [1.5f, 0.5f, 1, 0, 0], [-0.5f, 1.5f, 0, 1, 0], [3f, -0.25f, 0, 0, 1], [0f, -1.5f, 0, 1, 0], [2.5f, 0f, 0, 0, 1], [1f, -0.25f, 1, 0, 0],
    ];

    /// <summary>
    /// Interventional Shapley values of a linear model with independent features: φⱼ = Σ over j's elements e of
    /// W[t, e]·(x_e − mean of the background's e), c's one-hot group one player (the sum over its three levels), to 1e-6.
    /// </summary>
    public static void AssertLinearShapley(float[] maps, float[][] rows, float[][] background, long[] targets)
    {
        for (var i = 0; i < rows.Length; i++)
        {
            var w = LinearW[targets[i]];
            double Part(int e) => w[e] * (rows[i][e] - background.Average(b => (double)b[e]));
            Assert.Equal(Part(0), maps[i * 3], 1e-6);
            Assert.Equal(Part(1), maps[i * 3 + 1], 1e-6);
            Assert.Equal(Part(2) + Part(3) + Part(4), maps[i * 3 + 2], 1e-6);
        }
    }

    /// <summary>The linear fixture's groups: [a, (b − 1) / 2, c=x, c=y, c=z] → a, b, c.</summary>
    public static FeatureGroups Linear => Groups(TableFiles.LinearData("t.csv"));

    /// <summary>credit_data's 13 features over the MLP's vector (four one-hot groups).</summary>
    public static FeatureGroups Credit => Groups(TableFiles.CreditData("t.csv"));

    /// <summary>The rows of credit_expected.json: vectors as Python encoded them.</summary>
    public static float[][] CreditVectors()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tabular/credit_expected.json")));
        return [.. json.RootElement.GetProperty("vectors").EnumerateArray().Select(v => v.EnumerateArray().Select(e => e.GetSingle()).ToArray())];
    }

    public static FeatureGroups Groups(string data)
    {
        using var json = JsonDocument.Parse(data);
        return FeatureGroups.Of(TableOptions.Read(json.RootElement, "/tmp").Table)!;
    }

    /// <summary>
    /// One batch through a table method as a shard runs it: rows are dataset indices <paramref name="firstIndex"/>..; maps [n, features];
    /// <paramref name="weights"/>: the background rows' weights (summing to 1), or null for equal ones.
    /// </summary>
    public static (float[] Maps, float[][] Columns) Run(IAttributionMethod method, ExplainModel model, float[][] rows, FeatureGroups groups, float[][] background,
        long[]? targets = null, long firstIndex = 0, int maxRows = 256, double[]? weights = null)
    {
        using var scope = NewDisposeScope();
        var input = tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, groups.Width]);
        var batch = GradientBatch.Compute(model, input, targets is null ? null : tensor(targets), null, needGradients: false);
        var indices = Enumerable.Range(0, rows.Length).Select(i => firstIndex + i).ToArray();
        var methodBatch = new MethodBatch(model, batch, indices, maxRows, features: groups,
            background: tensor(background.SelectMany(r => r).ToArray(), [background.Length, groups.Width]), backgroundWeights: weights is null ? null : tensor(weights));
        var output = groups.Sum(method.Attribute(methodBatch));
        return (output.Maps.contiguous().data<float>().ToArray(), [.. output.Columns.Select(c => c.data<float>().ToArray())]);
    }

    /// <summary>v(S) for every coalition S ⊆ features (bit f of S: feature f present), each from |background| rows built here and run at once.</summary>
    public static double[] Values(ExplainModel model, float[] x, FeatureGroups groups, float[][] background, long target)
    {
        var k = groups.Names.Length;
        var rows = new float[(1 << k) * background.Length * groups.Width];
        var at = 0;
        for (var s = 0; s < 1 << k; s++)
            foreach (var b in background)
            {
                for (var f = 0; f < k; f++)
                    for (var e = groups.Offsets[f]; e < groups.Offsets[f] + groups.Widths[f]; e++)
                        rows[at + e] = (s >> f & 1) == 1 ? x[e] : b[e];
                at += groups.Width;
            }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.Forward(tensor(rows, [rows.Length / groups.Width, groups.Width])).to(ScalarType.Float64).cpu();
        var f64 = logits.select(1, target).contiguous().data<double>().ToArray();
        return [.. Enumerable.Range(0, 1 << k).Select(s => Enumerable.Range(0, background.Length).Average(b => f64[s * background.Length + b]))];
    }

    /// <summary>φⱼ = Σ_{S ∌ j} |S|!(k − |S| − 1)!/k! · (v(S ∪ j) − v(S)).</summary>
    public static double[] Shapley(double[] v, int k)
    {
        static double Factorial(int m) => m <= 1 ? 1 : m * Factorial(m - 1);
        var phi = new double[k];
        for (var j = 0; j < k; j++)
            for (var s = 0; s < 1 << k; s++)
            {
                if ((s >> j & 1) == 1) continue;
                var size = System.Numerics.BitOperations.PopCount((uint)s);
                phi[j] += Factorial(size) * Factorial(k - size - 1) / Factorial(k) * (v[s | 1 << j] - v[s]);
            }
        return phi;
    }

    /// <summary>The largest |v(S ∪ j) − v(S)| over S: the range of feature j's marginal contributions.</summary>
    public static double[] MarginalRange(double[] v, int k) =>
        [.. Enumerable.Range(0, k).Select(j => Enumerable.Range(0, 1 << k).Where(s => (s >> j & 1) == 0).Max(s => Math.Abs(v[s | 1 << j] - v[s])))];

    /// <summary>The model's predicted class for a row.</summary>
    public static long Predicted(ExplainModel model, float[] x)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return model.Forward(tensor(x, [1, x.Length])).argmax(1).item<long>();
    }
}
