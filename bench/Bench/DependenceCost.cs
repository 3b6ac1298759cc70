using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Dependence;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// Partial dependence (with ICE and ALE, as the post pass runs it: <see cref="DependenceWorker"/>) on the credit MLP over the
/// whole of credit_data, against the forward-only bound: the same number of model rows (rows × grid points), in the same
/// chunks (batchSize rows × grid points), through the model with no row building, response copy or sums (one prepared chunk
/// fed again and again). One numeric feature (Income, 20 grid points), no permutation importance.
///   explain-bench dependence [THREADS] [FIXTURES]   (default: 1 intra-op thread, tests/fixtures/tabular)
/// </summary>
internal static class DependenceCost
{
    public static async Task RunAsync(string[] args)
    {
        set_num_threads(args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1);
        var fixtures = Path.GetFullPath(args.Length > 1 ? args[1] : Path.Combine("tests", "fixtures", "tabular"));
        using var model = ExplainModel.Load(Path.Combine(fixtures, "credit_mlp.pt"), CPU, "credit_mlp.pt");
        Console.WriteLine($"credit MLP, the whole of credit_data, Income over 20 grid points, {get_num_threads()} intra-op thread(s); best of three, in alternation");
        Console.WriteLine();
        Console.WriteLine("| batchSize (rows) | model rows a forward | PDP (rows·grid/s) | forward only (rows/s) | PDP / bound |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var batch in new[] { 64, 256, 1024 })
        {
            var job = JobFile.Parse($$"""
                { "model": { "uri": "{{Path.Combine(fixtures, "credit_mlp.pt")}}", "classes": ["bad", "good"] },
                  "data": { "table": "{{Path.Combine(fixtures, "credit_data.csv")}}", "features": {{await File.ReadAllTextAsync(Path.Combine(fixtures, "credit_features.json"))}}, "label": "Status" },
                  "methods": { "saliency": {} }, "output": "out", "batchSize": {{batch}},
                  "dependence": { "features": ["Income"], "grid": 20, "ice": 0, "permutation": false } }
                """, fixtures);
            var dataset = await Dataset.OpenAsync(job, new BlobLocator(null));
            var data = await dataset.ReadAsync(new ShardSpec(0, 0, dataset.Count));
            var sums = DependenceFeature.Instance.NewSums(2);
            sums.Fold(DependenceFeature.Instance.Encode(DependenceSample.Of(data)!), "bench");
            var work = sums.Plan(job, null)!;
            var points = work.Grid[0].Length;
            var modelRows = (long)data.Count * points;
            DependenceWorker.Compute(model, job, data, work); // warm-up: TorchScript specialises on the first runs of each shape
            var (pdp, bound) = (double.MaxValue, double.MaxValue);
            for (var round = 0; round < 3; round++)
            {
                var watch = Stopwatch.StartNew();
                DependenceWorker.Compute(model, job, data, work);
                pdp = Math.Min(pdp, watch.Elapsed.TotalSeconds);
                bound = Math.Min(bound, ForwardOnly(model, data, batch * points, modelRows));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {batch} | {batch * points} | {modelRows / pdp:F0} | {modelRows / bound:F0} | {bound / pdp:F3} |"));
        }
    }

    private static double ForwardOnly(ExplainModel model, ShardData data, int chunk, long rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var width = data.SampleShape[0];
        var input = tensor(data.Raw, [data.Count, width]);
        var x = input.repeat(chunk / data.Count + 1, 1).narrow(0, 0, chunk).contiguous();
        var watch = Stopwatch.StartNew();
        for (long done = 0; done < rows; done += chunk)
        {
            using var step = NewDisposeScope();
            var n = (int)Math.Min(chunk, rows - done);
            _ = model.Forward(n == chunk ? x : x.narrow(0, 0, n));
        }
        return watch.Elapsed.TotalSeconds;
    }
}
