using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// lime and kernel-shap on the demo model against the forward-only bound of their perturbations: the same
/// number of rows, in the same chunks, through the model with no masking, sampling or solve. Also lime's
/// stability: the Spearman rank correlation of each image's segment weights between seeds 0 and 1.
///   explain-bench perturbation [IMAGES] [THREADS] [slic|quickshift|grid]   (default: 64 images, 1 intra-op thread, slic:
///   lime's quickshift defaults leave 28 × 28 Fashion-MNIST images one or two segments, slic's about 40; grid is 7 × 7)
/// </summary>
internal static class Perturbation
{
    public static async Task RunAsync(string[] args, string sample)
    {
        var count = args.Length > 0 ? int.Parse(args[0]) : 64;
        set_num_threads(args.Length > 1 ? int.Parse(args[1]) : 1);
        const int Rows = 256;
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "demo");
        var bytes = await (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")))).ReadBytesAsync(0, count);
        var preprocess = new PreprocessSpec(1 / 255.0, [0.286], [0.353], null);
        var data = new ShardData(0, count, [.. bytes.Select(b => (float)b)], null, [1, 28, 28]);

        var watch = Stopwatch.StartNew();
        var algorithm = args.Length > 2 ? args[2] : SegmentsSpec.SlicName;
        var spec = algorithm switch
        {
            SegmentsSpec.QuickshiftName => SegmentsSpec.Default,
            SegmentsSpec.GridName => SegmentsSpec.Grid(7, 7),
            _ => SegmentsSpec.Slic(),
        };
        var segmented = JobSegments.Compute(spec, preprocess, data);
        var segmentSeconds = watch.Elapsed.TotalSeconds;
        var pixels = 28 * 28;
        var segments = new BatchSegments(tensor(segmented.Labels.Select(l => (long)l).ToArray(), [count, 28, 28]), segmented.Counts);
        var input = model.PrepareInput(Preprocessor.Create(preprocess, [1, 28, 28]).Apply(tensor(data.Raw, [count, 1, 28, 28])));
        var shared = GradientBatch.Compute(model, input, null, null, needGradients: false);
        var batch = new MethodBatch(model, shared, [.. Enumerable.Range(0, count).Select(i => (long)i)], Rows, segments);
        Console.WriteLine($"{count} images, {algorithm}: {segmented.Counts.Average():F1} segments on average ({segmented.Counts.Min()}–{segmented.Counts.Max()}), " +
            $"{segmentSeconds:F3} s to segment (thread pool), {get_num_threads()} intra-op thread(s)");
        Console.WriteLine();
        Console.WriteLine("| method | samples | rows | method (s) | forward only (s) | forward / method |");
        Console.WriteLine("|---|---|---|---|---|---|");

        float[]? lime0 = null;
        foreach (var (name, samples, method) in new (string, int, IAttributionMethod)[]
        {
            ("lime", 1000, new Lime(1000, 0.25, 1.0, new Baseline(Baseline.SegmentMean, 0, 0), true, 0, null)),
            ("kernel-shap", 2048, new KernelShap(2048, new SegmentPlayers(Baseline.Zero), false, 0, null)),
        })
        {
            Time(() => method.Attribute(batch)); // warm-up: TorchScript specialises on the first runs of each shape
            var rows = name == "lime" ? (long)count * samples : (long)count * (2 + Math.Min(samples, segmented.Counts.Max() <= 30 ? (1 << segmented.Counts.Max()) - 2 : samples));
            // In alternation, best of three each: the machine is shared.
            var (seconds, forward) = (double.MaxValue, double.MaxValue);
            for (var round = 0; round < 3; round++)
            {
                var (s, maps) = Time(() => method.Attribute(batch));
                seconds = Math.Min(seconds, s);
                if (name == "lime") lime0 = maps;
                forward = Math.Min(forward, ForwardOnly(model, input, shared.Targets, rows, Rows));
            }
            Console.WriteLine($"| {name} | {samples} | {rows} | {seconds:F2} | {forward:F2} | {forward / seconds:F3} |");
        }

        var lime1 = Time(() => new Lime(1000, 0.25, 1.0, new Baseline(Baseline.SegmentMean, 0, 0), true, 1, null).Attribute(batch)).Maps;
        var correlations = Enumerable.Range(0, count).Select(i =>
        {
            var first = FirstPixels(segmented.Labels.AsSpan(i * pixels, pixels), segmented.Counts[i]);
            return Spearman([.. first.Select(p => (double)lime0![i * pixels + p])], [.. first.Select(p => (double)lime1[i * pixels + p])]);
        }).ToArray();
        Console.WriteLine();
        Console.WriteLine($"lime stability, seed 0 vs 1 at 1000 samples: Spearman of segment weights mean {correlations.Average():F3}, " +
            $"median {correlations.Order().ElementAt(count / 2):F3}, min {correlations.Min():F3}");
    }

    private static (double Seconds, float[] Maps) Time(Func<MethodOutput> run)
    {
        using var scope = NewDisposeScope();
        var watch = Stopwatch.StartNew();
        var maps = run().Maps.contiguous().data<float>().ToArray();
        return (watch.Elapsed.TotalSeconds, maps);
    }

    /// <summary>The same rows through the model in the same chunks, with no masking: the bound a perturbation method can reach.</summary>
    private static double ForwardOnly(ExplainModel model, Tensor input, Tensor targets, long rows, int chunk)
    {
        using var scope = NewDisposeScope();
        var x = input.repeat(chunk / input.shape[0] + 1, 1, 1, 1).narrow(0, 0, chunk).contiguous();
        var t = targets.repeat(chunk / targets.shape[0] + 1).narrow(0, 0, chunk);
        var watch = Stopwatch.StartNew();
        TargetGradients.Outputs(model, rows, (start, count) => count == chunk ? x : x.narrow(0, 0, count), t.repeat(rows / chunk + 1), chunk);
        return watch.Elapsed.TotalSeconds;
    }

    private static int[] FirstPixels(ReadOnlySpan<int> labels, int k)
    {
        var first = Enumerable.Repeat(-1, k).ToArray();
        for (var p = 0; p < labels.Length; p++) if (first[labels[p]] < 0) first[labels[p]] = p;
        return first;
    }

    private static double Spearman(double[] a, double[] b)
    {
        double[] Ranks(double[] v)
        {
            var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
            var ranks = new double[v.Length];
            for (var r = 0; r < order.Length; r++) ranks[order[r]] = r;
            return ranks;
        }
        var (ra, rb) = (Ranks(a), Ranks(b));
        var (ma, mb) = (ra.Average(), rb.Average());
        var cov = ra.Zip(rb, (x, y) => (x - ma) * (y - mb)).Sum();
        return cov / Math.Sqrt(ra.Sum(x => (x - ma) * (x - ma)) * rb.Sum(y => (y - mb) * (y - mb)));
    }
}
