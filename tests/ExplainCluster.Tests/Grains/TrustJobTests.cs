using System.Text.Json;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>The trust metrics through the cluster: per-sample columns, the same whichever way the job is sharded, and summary.json's means.</summary>
public class TrustJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const string Methods = """{ "saliency": {}, "grad-cam": { "layer": "10" }, "input": {} }""";

    private const string Trust = """, "batchSize": 40, "trust": { "seed": 5, "subset": { "perClass": 1, "seed": 3 }, "sensitivity": { "samples": 3 }, "road": { "percentiles": [20, 50, 80] } }, "faithfulness": { "steps": 4 }, "verdicts": { "maxSensitivity": 2 }""";

    private static readonly string[] Metrics = ["sparseness", "complexity", "max_sensitivity", "avg_sensitivity", "random_logit", "road_morf", "road_lerf", "road"];

    [Fact]
    public async Task Run_ShardedAndSingle_GiveTheSamePerSampleTrustAndItsMeans()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 80, 40, (images, labels, output, size) =>
            TestPaths.FashionJob(images, labels, output, size, Trust, methods: Methods));
        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        var trust = summary.RootElement.GetProperty("trust");
        Assert.Equal(Metrics, trust.GetProperty("metrics").EnumerateArray().Select(m => m.GetString()));
        int? subsetSize = null;
        foreach (var method in new[] { "saliency", "grad-cam", "input" })
            foreach (var metric in Metrics)
            {
                var column = $"{method.Replace('-', '_')}_{metric}";
                var whole = await ParquetRows.ReadNullableFloatsAsync(Path.Combine(single, "samples", "part-00000.parquet"), column);
                var parts = new List<float?>();
                for (var s = 0; s < 2; s++) parts.AddRange(await ParquetRows.ReadNullableFloatsAsync(Path.Combine(sharded, "samples", $"part-{s:D5}.parquet"), column));
                // Batches of the same rows in both runs (batchSize 40 = shardSize), every draw seeded per sample: equal to the bit.
                Assert.Equal(whole, parts.ToArray());
                var values = whole.OfType<float>().Select(v => (double)v).ToArray();
                if (metric is "sparseness" or "complexity") Assert.Equal(80, values.Length); // from the maps, on every sample
                else
                {
                    // The rest on the stratified subset only: one sample per (class × correct) stratum present.
                    subsetSize ??= values.Length;
                    Assert.Equal(subsetSize, values.Length);
                }
                var mean = trust.GetProperty("methods").GetProperty(method).GetProperty(metric).GetProperty("mean");
                Assert.Equal(values.Length, mean.GetProperty("n").GetInt64());
                Assert.Equal(values.Average(), mean.GetProperty("value").GetDouble(), 5);
                if (metric == "sparseness") Assert.All(values, v => Assert.InRange(v, 0, 1));
                if (metric == "complexity") Assert.All(values, v => Assert.InRange(v, 0, Math.Log(784) + 1e-6));
                if (metric == "random_logit" && method == "input") Assert.All(values, v => Assert.Equal(1, v, 6)); // the input ignores the class
                if (metric == "max_sensitivity" && method != "input") Assert.All(values, v => Assert.True(v > 0));
            }
        Assert.InRange(subsetSize!.Value, 2, 20);
        // Per class: the classes' counts add up to the method's n.
        var perClass = trust.GetProperty("methods").GetProperty("saliency").GetProperty("sparseness").GetProperty("perClass");
        Assert.Equal(80, perClass.EnumerateArray().Sum(c => c.GetProperty("mean").GetProperty("n").GetInt64()));
        Assert.Equal(JsonValueKind.String, perClass[0].GetProperty("name").ValueKind);

        // The verdicts take the trust metrics, by the job's thresholds; the report shows both tables.
        var verdicts = summary.RootElement.GetProperty("verdicts");
        Assert.Equal(2, verdicts.GetProperty("maxSensitivity").GetDouble());
        foreach (var method in new[] { "saliency", "grad-cam", "input" })
        {
            var v = verdicts.GetProperty("methods").GetProperty(method);
            var sensitivity = trust.GetProperty("methods").GetProperty(method).GetProperty("max_sensitivity").GetProperty("mean").GetProperty("value").GetDouble();
            Assert.Equal(sensitivity <= 2 ? "robust" : "sensitive", v.GetProperty("robustness").GetString());
            Assert.Contains(v.GetProperty("road").GetString(), new[] { "faithful", "not faithful", "inconclusive" });
        }
        Assert.Equal("failed", verdicts.GetProperty("methods").GetProperty("input").GetProperty("randomLogit").GetString()); // SSIM 1: not class-specific
        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Trust metrics</h3>", html);
        Assert.Contains("<th scope=\"col\">max-sensitivity ↓</th>", html);
        Assert.Contains("<th scope=\"col\">robustness</th><th scope=\"col\">random-logit</th><th scope=\"col\">ROAD</th>", html);
        Assert.Contains("<b>grad-cam</b> per target class", html);
    }
}
