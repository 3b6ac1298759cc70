using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The views that need the whole job before they can finish, pruning (its curve follows the global ranking) and
/// maximisation (the Grad-CAM channels with the largest mean α): a post pass over the shards after the explanations.
/// Sharded, the ranking, the curve's counts and every image are those of one shard.
/// </summary>
public class PostViewsJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Run_PruningAndMaximisation_ShardedEqualsSingle_AndTheReportShowsThem()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 25, Job);
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var (pa, pb) = (a.RootElement.GetProperty("views").GetProperty("pruning"), b.RootElement.GetProperty("views").GetProperty("pruning"));
        Assert.Equal(60, pa.GetProperty("samples").GetInt64());
        Assert.Equal(128, pa.GetProperty("order").GetArrayLength()); // layer 10's channels
        foreach (var field in new[] { "order", "removed", "accuracy", "maxRemovable", "baselineAccuracy", "baselineInterval", "change", "byHarm" })
            Assert.Equal(pa.GetProperty(field).ToString(), pb.GetProperty(field).ToString());
        // The sample is drawn in the dataset's proportions, not by stratum: its baseline estimates the dataset's accuracy,
        // which lies within the baseline's interval (a stratified sample, half errors, missed it by 33 points in the demo).
        var interval = pa.GetProperty("baselineInterval");
        var dataset = a.RootElement.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble();
        Assert.InRange(dataset, interval.GetProperty("low").GetDouble(), interval.GetProperty("high").GetDouble());
        Assert.Equal(60, interval.GetProperty("n").GetInt64());
        // Most important first: the first channel's removal costs the most.
        var change = pa.GetProperty("change").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var byHarm = pa.GetProperty("byHarm").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        Assert.Equal(change.Min(), change[byHarm[0]]);
        // The curve starts at the model's accuracy on the sample and ends with the whole layer zeroed.
        var accuracy = pa.GetProperty("accuracy").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(pa.GetProperty("baselineAccuracy").GetDouble(), accuracy[0], 12);
        Assert.True(accuracy[^1] < accuracy[0]);
        var removable = pa.GetProperty("maxRemovable").GetInt32();
        Assert.True(accuracy[Array.IndexOf(pa.GetProperty("removed").EnumerateArray().Select(v => v.GetInt32()).ToArray(), removable)] >= accuracy[0] - 0.01);

        var (ma, mb) = (a.RootElement.GetProperty("views").GetProperty("maximisation"), b.RootElement.GetProperty("views").GetProperty("maximisation"));
        Assert.Equal(ma.ToString(), mb.ToString()); // classes and channels, logits and probabilities: the same, whichever silo ran each
        var classes = ma.GetProperty("classes").EnumerateArray().ToArray();
        Assert.Equal(10, classes.Length);
        Assert.All(classes, c => Assert.True(c.GetProperty("logit").GetDouble() > c.GetProperty("startLogit").GetDouble() + 2, c.GetProperty("name").GetString()));
        Assert.Equal(2, ma.GetProperty("channels").GetArrayLength());
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(single, "summary", "maximisation-classes.npy")),
            await File.ReadAllBytesAsync(Path.Combine(sharded, "summary", "maximisation-classes.npy")));

        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Pruning: how much of the layer the decisions need</h3>", html);
        Assert.Contains("60 samples drawn at random in the dataset's proportions", html);
        Assert.Contains("<th scope=\"col\">rank (most important first)</th>", html);
        Assert.Contains("<h3>Activation maximisation</h3>", html);
        // A list of the chapters under the title, each linked to its heading.
        var headings = System.Text.RegularExpressions.Regex.Matches(html, "<h2>(.*?)</h2>").Select(m => m.Groups[1].Value).ToArray();
        Assert.Contains("<nav><h3>Contents</h3><ol><li><a href=\"#section-1\">Summary</a></li>", html);
        for (var i = 0; i < headings.Length; i++)
            Assert.Contains($"<li><a href=\"#section-{i + 1}\">{headings[i]}</a></li>", html);
        Assert.Equal(headings.Length, System.Text.RegularExpressions.Regex.Matches(html, "<a id=\"section-\\d+\"></a><h2>").Count);
        Assert.True(File.Exists(Path.Combine(single, "plots", "pruning-curve.png")));
        Assert.True(File.Exists(Path.Combine(single, "plots", "maximisation-class-9.png")));
    }

    [Fact]
    public async Task Run_Embedding_CoordinatesAreAnExactPca_ShardedEqualsSingle()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 25, (images, labels, output, size) => Job(images, labels, output, size,
            "\"methods\": { \"saliency\": {} }, \"views\": { \"embedding\": { \"knnSamples\": 40, \"k\": 5 } }"));
        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        var embedding = summary.RootElement.GetProperty("views").GetProperty("embedding");
        Assert.Equal("12", embedding.GetProperty("layer").GetString()); // the input of the demo model's last Linear ("13"): Flatten's output, 128 values
        var variance = embedding.GetProperty("variance").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var coordinates = await NpyFiles.ReadFloatsAsync(Path.Combine(single, "embedding", "part-00000.npy"));
        Assert.Equal(240, coordinates.Length);

        // An exact PCA: the coordinates are centred, each component's variance is its eigenvalue, and the two are uncorrelated.
        double Mean(Func<int, double> f) => Enumerable.Range(0, 120).Average(f);
        for (var d = 0; d < 2; d++)
        {
            var component = d;
            Assert.Equal(0, Mean(i => coordinates[2 * i + component]), 1e-4 * Math.Sqrt(variance[d]));
            Assert.Equal(variance[d], Mean(i => (double)coordinates[2 * i + component] * coordinates[2 * i + component]), 1e-4 * variance[d]);
        }
        Assert.Equal(0, Mean(i => (double)coordinates[2 * i] * coordinates[2 * i + 1]), 1e-4 * Math.Sqrt(variance[0] * variance[1]));
        Assert.True(variance[0] > variance[1]);

        var shardedCoordinates = new List<float>();
        for (var s = 0; s < 5; s++) shardedCoordinates.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "embedding", $"part-{s:D5}.npy")));
        Assert.Equal(coordinates.Length, shardedCoordinates.Count);
        for (var i = 0; i < coordinates.Length; i++) Assert.Equal(coordinates[i], shardedCoordinates[i], 1e-3 * Math.Sqrt(variance[0]));

        // The label vote: 40 samples of the stratified subset, the same however sharded, shares of 5 neighbours.
        var knn = embedding.GetProperty("knn");
        Assert.Equal(40, knn.GetProperty("samples").GetInt32());
        Assert.Equal(knn.ToString(), Jobs.ReadJson(Path.Combine(sharded, "summary.json")).RootElement.GetProperty("views").GetProperty("embedding").GetProperty("knn").ToString());
        var agreement = await NpyFiles.ReadFloatsAsync(Path.Combine(single, knn.GetProperty("agreementFile").GetString()!));
        Assert.Equal(40, agreement.Length);
        Assert.All(agreement, v => Assert.Contains(v, new[] { 0f, 0.2f, 0.4f, 0.6f, 0.8f, 1f }));
        Assert.Equal(agreement.Average(), knn.GetProperty("meanAgreement").GetDouble(), 1e-6);
        // About 4 samples per class (half of them misclassified, as the strata ask), so at most 3 of 5 neighbours can share a
        // label: 0.36 measured, well above the 0.1 of neighbours drawn at random from ten classes.
        Assert.True(knn.GetProperty("meanAgreement").GetDouble() > 0.2);
        // Reweighted to the dataset's strata (the subset is half errors, the dataset is not), with its interval over the 40.
        var reweighted = knn.GetProperty("agreement");
        Assert.Equal(40, reweighted.GetProperty("n").GetInt64());
        Assert.InRange(reweighted.GetProperty("value").GetDouble(), reweighted.GetProperty("low").GetDouble(), reweighted.GetProperty("high").GetDouble());
        Assert.Contains("reweighted to the dataset", await File.ReadAllTextAsync(Path.Combine(single, "report.html")));

        // The same values as parquet columns: the coordinates for every sample, the vote's share for its samples only.
        var partPath = Path.Combine(single, "samples", "part-00000.parquet");
        var x = await ParquetRows.ReadNullableFloatsAsync(partPath, "embedding_0");
        var y = await ParquetRows.ReadNullableFloatsAsync(partPath, "embedding_1");
        Assert.Equal(Enumerable.Range(0, 120).Select(i => (float?)coordinates[2 * i]), x);
        Assert.Equal(Enumerable.Range(0, 120).Select(i => (float?)coordinates[2 * i + 1]), y);
        var voted = await NpyFiles.ReadIntegersAsync(Path.Combine(single, knn.GetProperty("indexFile").GetString()!));
        var shares = await ParquetRows.ReadNullableFloatsAsync(partPath, "knn_agreement");
        Assert.Equal(voted, Enumerable.Range(0, 120).Where(i => shares[i] is not null).Select(i => (long)i));
        Assert.Equal(agreement, voted.Select(i => shares[i]!.Value));
        Assert.Contains("saliency_mean_abs", (await ParquetRows.ReadAsync(partPath)).Columns); // the part's own columns are still there

        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Embedding</h3>", html);
        Assert.Contains("<h3>Label vote</h3>", html);
        Assert.True(File.Exists(Path.Combine(single, "plots", "embedding-scatter.png")));
    }

    private static string Job(string images, string labels, string output, int shardSize) => Job(images, labels, output, shardSize,
        "\"methods\": { \"grad-cam\": { \"layer\": \"10\" } }, \"views\": { \"pruning\": { \"samples\": 60 }, \"maximisation\": { \"steps\": 32, \"channels\": 2 } }");

    private static string Job(string images, string labels, string output, int shardSize, string methodsAndViews) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          {{methodsAndViews}},
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
