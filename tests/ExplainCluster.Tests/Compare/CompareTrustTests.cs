using System.Text.Json;
using ExplainCluster.Engine.Compare;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Compare;

/// <summary>
/// The comparison's trust part on real runs (faithfulness, sanity and param-grads on Fashion-MNIST): nothing changes
/// against itself; against a retraining, the AUC deltas and the persisting label-error candidates are what the two runs'
/// parquet files give directly, however the candidate was sharded.
/// </summary>
public class CompareTrustTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const int Samples = 200;
    private const string Methods = """{ "saliency": {}, "grad-cam": { "layer": "10" }, "param-grads": {} }""";
    private const string Trust = """, "faithfulness": { "steps": 5 }, "sanity": { "samples": 24 }""";

    [Fact]
    public async Task Trust_RunWithItself_ZeroDeltas_FullOverlap()
    {
        var data = await CompareRuns.DataAsync(Samples);
        var a = await CompareRuns.RunAsync(one.Grains, data, "a", TestPaths.Sample("model.pt"), 80, Trust, Methods);
        var c = await new Comparer(new BlobLocator(null)).CompareAsync(a, a);
        Assert.Equal(["grad-cam", "saliency"], c.Trust.Select(t => t.Method));
        Assert.All(c.Trust, t =>
        {
            var f = t.Faithfulness!;
            Assert.True(f.Paired);
            Assert.Equal((0.0, 0.0, 0.0, Samples), (f.Deletion.Value, f.Deletion.Low, f.Deletion.High, f.Deletion.N));
            Assert.Equal((0.0, 0.0, 0.0), (f.Insertion.Value, f.Insertion.Low, f.Insertion.High));
            Assert.NotNull(t.FaithfulnessA);
            Assert.Equal(t.FaithfulnessA, t.FaithfulnessB);
            Assert.Equal(t.SanityA, t.SanityB);
            Assert.NotNull(t.SanityA);
            Assert.False(t.VerdictChanged);
        });
        var le = c.LabelErrors!;
        Assert.Equal((16, 16, 16, 1.0), (le.CountA, le.CountB, le.Shared, le.Overlap));
        Assert.Empty(le.OnlyA);
        Assert.All(le.Persisting, p => Assert.Equal(p.RankA, p.RankB));
        Assert.Contains("16 of A's 16 label-error candidates", string.Join(" ", c.Findings));
        var page = ComparisonOutput.Page(c);
        Assert.Contains("Trust: faithfulness AUCs", page);
        Assert.Contains("Label-error candidates in both runs: 16 of A&#39;s 16", page.Replace("&#x27;", "&#39;"));
    }

    [Fact]
    public async Task Trust_Retrained_EqualsDirectComputationFromParquet_AndShardingChangesNothing()
    {
        var data = await CompareRuns.DataAsync(Samples);
        var a = await CompareRuns.RunAsync(one.Grains, data, "a", TestPaths.Sample("model.pt"), 200, Trust, Methods);
        var sharded = await CompareRuns.RunAsync(one.Grains, data, "b-sharded", TestPaths.Fixture("compare/seed1.pt"), 70, Trust, Methods);
        var single = await CompareRuns.RunAsync(one.Grains, data, "b-single", TestPaths.Fixture("compare/seed1.pt"), 200, Trust, Methods);
        var comparer = new Comparer(new BlobLocator(null));
        var c = await comparer.CompareAsync(a, sharded);

        foreach (var t in c.Trust)
        {
            var column = OutputLayout.Column(t.Method);
            foreach (var (curve, delta) in new[] { ("deletion", t.Faithfulness!.Deletion), ("insertion", t.Faithfulness.Insertion) })
            {
                var (va, vb) = (await ColumnAsync(a, $"{column}_{curve}_auc"), await ColumnAsync(sharded, $"{column}_{curve}_auc"));
                var d = va.Zip(vb, (x, y) => (double)y - x).ToArray();
                var mean = d.Average();
                var sd = Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / (d.Length - 1));
                Assert.Equal(mean, delta.Value, 12);
                Assert.Equal(mean - 1.959963984540054 * sd / Math.Sqrt(d.Length), delta.Low, 9);
                Assert.Equal(Samples, delta.N);
            }
        }
        Assert.NotEqual(0, c.Trust[0].Faithfulness!.Deletion.Value);

        // The persisting candidates: the intersection of each run's 16 largest param_grad_norm values (ties to the lower index).
        var (topA, topB) = (await TopNormsAsync(a), await TopNormsAsync(sharded));
        var le = c.LabelErrors!;
        Assert.Equal(topA.Intersect(topB).Order(), le.Persisting.Select(p => p.Index).Order());
        Assert.Equal(topA.Except(topB), le.OnlyA);
        Assert.Equal(topB.Except(topA), le.OnlyB);
        Assert.Equal(topA.Intersect(topB).Count() / (double)topA.Union(topB).Count(), le.Overlap, 12);

        var d2 = await comparer.CompareAsync(a, single);
        Assert.Equal(JsonSerializer.Serialize(c with { Candidate = d2.Candidate }, Manifest.Json), JsonSerializer.Serialize(d2, Manifest.Json));
    }

    private static async Task<float[]> ColumnAsync(string output, string column) =>
        [.. (await Task.WhenAll(Parts(output).Select(p => ParquetRows.ReadFloatsAsync(p, column)))).SelectMany(v => v)];

    private static async Task<long[]> TopNormsAsync(string output)
    {
        var norms = await ColumnAsync(output, "param_grad_norm");
        return [.. Enumerable.Range(0, norms.Length).OrderByDescending(i => norms[i]).ThenBy(i => i).Take(16).Select(i => (long)i)];
    }

    private static IEnumerable<string> Parts(string output) => Directory.GetFiles(Path.Combine(output, "samples")).Order();
}
