using ExplainCluster.Contracts;
using ExplainCluster.Engine.Compare;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Compare;

/// <summary>
/// Linear CKA from mergeable sums: by hand on one feature (CKA is then r²), and on the real features of the demo model
/// and its retraining at their embedding layer: halves folded equal the whole, the sums equal plain loops, CKA equals the
/// direct computation from centred Gram matrices, a model against itself is 1, and a comparison of two runs gives it.
/// </summary>
public class CkaTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const int Samples = 200;

    [Fact]
    public void Cka_OneFeature_IsSquaredPearson()
    {
        // x = 1, 2, 3, y = 2, 4, 7: centred x = −1, 0, 1, y = −7/3, −1/3, 8/3: Σxy = 5, Σx² = 2, Σy² = 114/9 → r² = 25 / (2 · 114/9) = 225/228.
        double[] x = [1, 2, 3], y = [2, 4, 7];
        Assert.Equal(225.0 / 228, CkaSums.Of(x, y, 3).Cka(), 12);
        Assert.Equal(1, CkaSums.Of(x, [3, 5, 7], 3).Cka(), 12); // y = 2x + 1
        var halves = CkaSums.Fold(CkaSums.Fold(null, CkaSums.Of(x.AsSpan(0, 2), y.AsSpan(0, 2), 2)), CkaSums.Of(x.AsSpan(2), y.AsSpan(2), 1));
        Assert.Equal(CkaSums.Of(x, y, 3).Sxy, halves.Sxy);
        Assert.Equal(225.0 / 228, halves.Cka(), 12);
    }

    [Fact]
    public async Task Cka_RealFeatures_HalvesEqualWhole_EqualsCentredGram_SelfIsOne()
    {
        var (job, data) = await DataAsync();
        using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, new BlobLocator(null));
        var (ma, mb) = (await host.GetModelAsync(TestPaths.Sample("model.pt")), await host.GetModelAsync(TestPaths.Fixture("compare/seed1.pt")));
        var layer = await host.RunAsync(() => ma.ChildBeforeLastLinear()!);
        Assert.Equal("12", layer); // the demo's Flatten, before its Linear(128, 10)
        var (x, y) = await host.RunAsync(() =>
        {
            using var fx = RepresentationComparison.Features(ma, layer, job, data, 0, Samples);
            using var fy = RepresentationComparison.Features(mb, layer, job, data, 0, Samples);
            return (fx.data<double>().ToArray(), fy.data<double>().ToArray());
        });
        Assert.Equal(Samples * 128, x.Length);

        var whole = await host.RunAsync(() => RepresentationComparison.Sums(ma, layer, job, data, mb, layer, job, data, 64));
        var (first, second) = (Half(data, 0, 100), Half(data, 100, 100));
        var folded = CkaSums.Fold(CkaSums.Fold(null, await host.RunAsync(() => RepresentationComparison.Sums(ma, layer, job, first, mb, layer, job, first, 64))),
            await host.RunAsync(() => RepresentationComparison.Sums(ma, layer, job, second, mb, layer, job, second, 64)));
        var loops = CkaSums.Of(x, y, Samples);
        foreach (var (s, name) in new[] { (folded, "halves"), (loops, "plain loops") })
        {
            Assert.Equal(whole.N, s.N);
            AssertClose(whole.Sxx, s.Sxx, name);
            AssertClose(whole.Syy, s.Syy, name);
            AssertClose(whole.Sxy, s.Sxy, name);
            AssertClose(whole.Sx, s.Sx, name);
        }

        var direct = CentredGramCka(x, y, Samples);
        Assert.InRange(direct, 0.2, 0.99); // a retraining: related, not the same
        Assert.Equal(direct, whole.Cka(), 9);
        Assert.Equal(direct, folded.Cka(), 9);
        Assert.Equal(1, CkaSums.Of(x, x, Samples).Cka(), 12);
        Assert.Equal(1, await host.RunAsync(() => RepresentationComparison.Sums(ma, layer, job, data, ma, layer, job, data, 64).Cka()), 12);
    }

    [Fact]
    public async Task Compare_WithModelHost_GivesCka_SameHoweverSharded_OneWithItself()
    {
        var runs = await CompareRuns.DataAsync(300);
        var a = await CompareRuns.RunAsync(one.Grains, runs, "a", TestPaths.Sample("model.pt"), 100);
        var sharded = await CompareRuns.RunAsync(one.Grains, runs, "b-sharded", TestPaths.Fixture("compare/seed1.pt"), 70);
        var single = await CompareRuns.RunAsync(one.Grains, runs, "b-single", TestPaths.Fixture("compare/seed1.pt"), 300);
        using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, new BlobLocator(null));
        var comparer = new Comparer(new BlobLocator(null), host);
        var self = (await comparer.CompareAsync(a, a)).Representation!;
        Assert.Equal((1.0, 300L, 128, "12"), (Math.Round(self.LinearCka!.Value, 12), self.Samples, self.FeaturesA, self.LayerB));
        var (c, d) = ((await comparer.CompareAsync(a, sharded)).Representation!, (await comparer.CompareAsync(a, single)).Representation!);
        Assert.Equal(c, d); // blocks of 256 whatever either run's shards: the same bits
        Assert.InRange(c.LinearCka!.Value, 0.2, 0.99);
        Assert.Null(c.Missing);
        // Without a model host the comparison reads outputs only.
        Assert.Null((await new Comparer(new BlobLocator(null)).CompareAsync(a, single)).Representation);
    }

    /// <summary>
    /// The drift of per-class activations: for the first conv layer ("0", 16 channels) each class's mean channel
    /// activations in A and B, computed here from the layer's outputs by plain loops, moved as the comparison says; a
    /// model against itself moved nowhere.
    /// </summary>
    [Fact]
    public async Task Compare_WithModelHost_ActivationDrift_EqualsDirectComputation_NoneWithItself()
    {
        var runs = await CompareRuns.DataAsync(Samples);
        var a = await CompareRuns.RunAsync(one.Grains, runs, "a", TestPaths.Sample("model.pt"), 100);
        var b = await CompareRuns.RunAsync(one.Grains, runs, "b", TestPaths.Fixture("compare/seed1.pt"), 70);
        using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, new BlobLocator(null));
        var comparer = new Comparer(new BlobLocator(null), host);
        var c = await comparer.CompareAsync(a, b);
        Assert.Equal(14, c.Activations!.Length); // the same architecture: every top-level child is shared
        var layer = c.Activations.Single(l => l.Layer == "0");
        const int channels = 16;
        Assert.Equal(channels, layer.Channels);

        var job = JobFile.Parse(TestPaths.FashionJob(runs.Images, runs.Labels, Path.Combine(runs.Folder, "x")), runs.Folder);
        var data = await (await Dataset.OpenAsync(job, new BlobLocator(null))).ReadAsync(new ShardSpec(0, 0, Samples));
        var (ma, mb) = (await host.GetModelAsync(TestPaths.Sample("model.pt")), await host.GetModelAsync(TestPaths.Fixture("compare/seed1.pt")));
        var (x, y) = await host.RunAsync(() =>
        {
            using var fx = RepresentationComparison.Features(ma, "0", job, data, 0, Samples);
            using var fy = RepresentationComparison.Features(mb, "0", job, data, 0, Samples);
            return (fx.data<double>().ToArray(), fy.data<double>().ToArray());
        });
        var positions = x.Length / (Samples * channels);
        var (sumA, sumB, n) = (new double[10, channels], new double[10, channels], new long[10]);
        for (var i = 0; i < Samples; i++)
        {
            var label = (int)data.Labels![i];
            n[label]++;
            for (var ch = 0; ch < channels; ch++)
            {
                double ta = 0, tb = 0;
                for (var p = 0; p < positions; p++) { ta += x[(i * channels + ch) * positions + p]; tb += y[(i * channels + ch) * positions + p]; }
                sumA[label, ch] += ta / positions;
                sumB[label, ch] += tb / positions;
            }
        }
        foreach (var k in layer.Classes)
        {
            double diff = 0, norm = 0;
            for (var ch = 0; ch < channels; ch++)
            {
                var (ua, ub) = (sumA[k.Class, ch] / n[k.Class], sumB[k.Class, ch] / n[k.Class]);
                (diff, norm) = (diff + (ub - ua) * (ub - ua), norm + ua * ua);
            }
            Assert.Equal(n[k.Class], k.N);
            var expected = Math.Sqrt(diff / norm);
            Assert.True(Math.Abs(k.RelativeChange - expected) <= 1e-6 * expected, $"class {k.Class}: {k.RelativeChange} for {expected}"); // means over positions in float32
        }
        Assert.InRange(layer.Classes[0].RelativeChange, 0.01, 10); // a retraining moves them
        Assert.Contains(c.Findings, f => f.StartsWith("Activations: of the 14 layers both models share", StringComparison.Ordinal));

        var self = await comparer.CompareAsync(a, a);
        Assert.All(self.Activations!.SelectMany(l => l.Classes), k => Assert.Equal((0.0, 1.0), (k.RelativeChange, Math.Round(k.Cosine, 12))));
        Assert.Contains("Activations: no class's mean activations moved at any of the 14 layers both models share.", self.Findings);
    }

    /// <summary>tr(KL) / √(tr(KK) tr(LL)) with K = HXXᵀH, L = HYYᵀH (H the centring matrix): the textbook definition.</summary>
    private static double CentredGramCka(double[] x, double[] y, int n)
    {
        var (k, l) = (CentredGram(x, n), CentredGram(y, n));
        double kl = 0, kk = 0, ll = 0;
        for (var i = 0; i < n * n; i++) { kl += k[i] * l[i]; kk += k[i] * k[i]; ll += l[i] * l[i]; } // K, L symmetric: tr(KL) = Σ K∘L
        return kl / Math.Sqrt(kk * ll);
    }

    private static double[] CentredGram(double[] x, int n)
    {
        var p = x.Length / n;
        var g = new double[n * n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
            {
                double s = 0;
                for (var f = 0; f < p; f++) s += x[i * p + f] * x[j * p + f];
                g[i * n + j] = s;
            }
        var (rows, all) = (new double[n], 0.0);
        for (var i = 0; i < n; i++) { for (var j = 0; j < n; j++) rows[i] += g[i * n + j] / n; all += rows[i] / n; }
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++) g[i * n + j] += all - rows[i] - rows[j];
        return g;
    }

    private static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-9 * (1 + Math.Abs(expected[i])), $"{what}: [{i}] {actual[i]} for {expected[i]}");
    }

    private static ShardData Half(ShardData data, int start, int count)
    {
        var sample = data.SampleShape.Aggregate(1, (p, d) => p * d);
        return data with { Start = data.Start + start, Count = count, Raw = data.Raw.AsSpan(start * sample, count * sample).ToArray(), Labels = null };
    }

    private static async Task<(JobSpec Job, ShardData Data)> DataAsync()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, Samples);
        var job = JobFile.Parse(TestPaths.FashionJob(images, labels, Path.Combine(folder, "out")), folder);
        var dataset = await Dataset.OpenAsync(job, new BlobLocator(null));
        return (job, await dataset.ReadAsync(new ShardSpec(0, 0, Samples)));
    }
}
