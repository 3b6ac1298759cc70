using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// kernel-shap, permutation-shap and lime over a table's features on the credit MLP (tests/fixtures/tabular) against the
/// forward-only bound of their perturbations: the same number of rows, in the same chunks (each explained row's own, as the
/// methods forward them), to the same output (lime: the target's probability, as it explains it by default; the others: the
/// logit), through the model with no sampling, masking, averaging or solve. Two bounds: one chunk fed again and again (it
/// stays in the cache, as no method's rows can), and every row of an explained row's perturbations distinct, built
/// beforehand and read from memory in the same chunks (what the forwards cost when the rows are not in cache, as a
/// method's are not when there are more of them than the cache holds). Each method alone on ROWS rows of credit_data (one batch), 100 background rows
/// (lime: 1000 training rows) chosen as the selection pass does, at the job's default row budget (256 rows a forward)
/// and at a larger one.
///   explain-bench table-perturbation [ROWS] [THREADS] [FIXTURES]   (default: 32 rows, 1 intra-op thread, tests/fixtures/tabular)
/// </summary>
internal static class TablePerturbation
{
    public static async Task RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 32;
        set_num_threads(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1);
        var fixtures = Path.GetFullPath(args.Length > 2 ? args[2] : Path.Combine("tests", "fixtures", "tabular"));
        var job = JobFile.Parse($$"""
            { "model": { "uri": "{{Path.Combine(fixtures, "credit_mlp.pt")}}", "classes": ["bad", "good"] },
              "data": { "table": "{{Path.Combine(fixtures, "credit_data.csv")}}", "features": {{await File.ReadAllTextAsync(Path.Combine(fixtures, "credit_features.json"))}}, "label": "Status" },
              "methods": { "saliency": {} }, "output": "out" }
            """, fixtures);
        var dataset = await Dataset.OpenAsync(job, new BlobLocator(null));
        var data = await dataset.ReadAsync(new ShardSpec(0, 0, count));
        var groups = FeatureGroups.Of(job.Data.Table)!;
        using var model = ExplainModel.Load(Path.Combine(fixtures, "credit_mlp.pt"), CPU, "credit_mlp.pt");
        var input = tensor(data.Raw, [count, groups.Width]);
        var shared = GradientBatch.Compute(model, input, null, null, needGradients: false);
        var indices = Enumerable.Range(0, count).Select(i => (long)i).ToArray();
        Tensor Sample(int rows)
        {
            // As the selection pass chooses a Subset.Rows sample: the smallest keys of (seed 0, dataset index).
            var chosen = Enumerable.Range(0, (int)dataset.Count).Select(i => (long)i).OrderBy(i => SampleSeeds.For(0, i)).Take(rows).Order().ToArray();
            return tensor(dataset.ReadRowsAsync(chosen).GetAwaiter().GetResult().Raw, [rows, groups.Width]);
        }
        var (background, training) = (Sample(100), Sample(1000));
        var k = groups.Names.Length;
        Console.WriteLine($"credit MLP ({groups.Width} inputs, {k} features), {count} rows, {get_num_threads()} intra-op thread(s); best of three, in alternation");
        Console.WriteLine();
        // Kernel-shap's rows that are distinct vectors (DistinctRows), which are all it forwards, against the bounds' rows.
        var (coalitions, _) = Coalitions.Shapley([.. Enumerable.Repeat(k, count)], indices, 2048, 0);
        var (inputs, backgroundRows) = (input.data<float>().ToArray(), background.data<float>().ToArray());
        var distinct = new DistinctRows(groups, backgroundRows);
        var forwarded = Enumerable.Range(0, count).Average(i =>
            distinct.Find(coalitions.Of(i).Span, coalitions.Rows, inputs.AsSpan(i * groups.Width, groups.Width)) ? distinct.Count : coalitions.Rows * 100.0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kernel-shap forwards {forwarded:F0} distinct rows per explained row of the {coalitions.Rows * 100} the bounds forward"));
        Console.WriteLine();
        Console.WriteLine("| method | row budget | model rows per explained row | method (rows/s) | forward only, one chunk (rows/s) | method / bound | forward only, rows from memory (rows/s) | method / that bound |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var budget in new[] { 256, 8192 })
        {
            foreach (var (name, method, sample, perRow, probability) in new (string, IAttributionMethod, Tensor, long, bool)[]
            {
                ("kernel-shap (2048 coalitions × 100 background)", new KernelShap(2048, new FeaturePlayers(Subset.Rows(100, 0)), false, 0, budget), background, (2 + 2048) * 100L, false),
                ("permutation-shap (10 permutations × 100 background)", new PermutationShap(10, new FeaturePlayers(Subset.Rows(100, 0)), false, 0, budget), background, 10 * (2 * k + 1) * 100L, false),
                ("lime (5000 samples)", new TabularLime(5000, null, 1.0, true, 0, Subset.Rows(1000, 0), budget), training, 5000L, true),
                ("lime (5000 samples, \"perturbations\": \"shared\")", new TabularLime(5000, null, 1.0, true, 0, Subset.Rows(1000, 0), budget, shared: true), training, 5000L, true),
            })
            {
                var batch = new MethodBatch(model, shared, indices, budget, features: groups, background: sample);
                Time(() => method.Attribute(batch)); // warm-up: TorchScript specialises on the first runs of each shape
                var (seconds, forward, fromMemory) = (double.MaxValue, double.MaxValue, double.MaxValue);
                for (var round = 0; round < 3; round++)
                {
                    seconds = Math.Min(seconds, Time(() => method.Attribute(batch)));
                    forward = Math.Min(forward, ForwardOnly(model, input, shared.Targets, count, perRow, budget, probability, distinct: false));
                    fromMemory = Math.Min(fromMemory, ForwardOnly(model, input, shared.Targets, count, perRow, budget, probability, distinct: true));
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {budget} | {perRow} | {count / seconds:F1} | {count / forward:F1} | {forward / seconds:F3} | {count / fromMemory:F1} | {fromMemory / seconds:F3} |"));
            }
        }
    }

    private static double Time(Func<MethodOutput> run)
    {
        using var scope = NewDisposeScope();
        var watch = Stopwatch.StartNew();
        _ = run().Maps.cpu();
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The same number of rows through the model, each explained row's <paramref name="perRow"/> in its own chunks of
    /// <paramref name="chunk"/>, to the same output, with no row building: the bound a perturbation method can reach.
    /// <paramref name="distinct"/>: the <paramref name="perRow"/> rows are all there, built before the clock starts, and
    /// each chunk is read from them (for kernel-shap's 205,000 rows of 26 floats, 21 MB); otherwise one chunk is fed again.
    /// </summary>
    private static double ForwardOnly(ExplainModel model, Tensor input, Tensor targets, int count, long perRow, int chunk, bool probability, bool distinct)
    {
        using var scope = NewDisposeScope();
        var length = distinct ? perRow : chunk;
        var x = input.repeat(length / input.shape[0] + 1, 1).narrow(0, 0, length).contiguous();
        var t = targets.narrow(0, 0, 1).expand(perRow);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            using var row = NewDisposeScope();
            TargetGradients.Outputs(model, perRow, (start, size) => distinct ? x.narrow(0, start, size) : size == chunk ? x : x.narrow(0, 0, size), t, chunk, probability);
        }
        return watch.Elapsed.TotalSeconds;
    }
}
