using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Stats;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Dependence;

/// <summary>One curve feature's sums over a shard's rows.</summary>
/// <param name="Pdp">Per grid point and class (g·C + c), the exact sum's partials of the model's response with the feature set to the point.</param>
/// <param name="Ale">Per bin and class ((k − 1)·C + c), the exact sum's partials of f(z_k) − f(z_{k−1}) over the rows in bin k; empty for a categorical feature.</param>
/// <param name="AleCount">Rows per bin.</param>
/// <param name="IceIndex">The shard's ICE rows (dataset indices, ascending).</param>
/// <param name="Ice">Their curves, [rows, grid, classes] row-major, as the model gave them.</param>
public sealed record CurveSums(double[][] Pdp, double[][] Ale, long[] AleCount, long[] IceIndex, float[] Ice);

/// <summary>A shard's dependence results in the post pass: every row's curves summed, its ICE rows, and permutation importance's counts.</summary>
/// <param name="Correct">Per table feature and repeat (j·R + r), the rows still classified as labelled with the feature's value drawn.</param>
public sealed record DependencePostPartial(long Rows, int Classes, CurveSums[] Curves, long Labelled, long BaseCorrect, long[] Correct);

/// <summary>
/// The dependence views' tensor work over one shard (post pass, on the model host): for each curve feature, every row is
/// run with the feature set to each grid point in turn (batches of rows × grid points, each in its dispose scope); the
/// responses are summed into the partial dependence, differenced between neighbouring points into the ALE bins of the row's own
/// value, and kept whole for the ICE rows. Permutation importance runs each row with one feature's value replaced by the
/// sample's value at hash(seed, feature, repeat, dataset index) mod m, the same draw whichever shard the row is in.
/// </summary>
public static class DependenceWorker
{
    public static DependencePostPartial Compute(ExplainModel model, JobSpec job, ShardData data, DependenceWork work, CancellationToken ct = default, BatchClock? clock = null)
    {
        var table = job.Data.Table!;
        var offsets = table.Features.Select((_, f) => table.Features.Take(f).Sum(x => x.Width)).ToArray();
        var width = table.Features.Sum(f => f.Width);
        var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
        using var shardRaw = tensor(data.Raw, [data.Count, width]);
        var batch = Math.Max(1, job.BatchSize);
        var ice = work.Ice.Where(i => i >= data.Start && i < data.Start + data.Count).ToArray();
        var classes = 0;

        var curves = new CurveSums[work.Features.Length];
        for (var k = 0; k < work.Features.Length; k++)
        {
            var f = work.Features[k];
            var (feature, grid) = (table.Features[f], work.Grid[k]);
            var g = grid.Length;
            ExactSum[]? pdp = null, ale = null;
            var aleCount = new long[feature.Categorical ? 0 : g - 1];
            var iceCurves = new List<float>();
            var patch = Patches(feature, grid);
            for (var start = 0; start < data.Count; start += batch)
            {
                ct.ThrowIfCancellationRequested();
                clock?.Tick();
                var count = Math.Min(batch, data.Count - start);
                float[] y;
                using (var scope = NewDisposeScope())
                {
                    var x = model.PrepareInput(preprocess.Apply(shardRaw.narrow(0, start, count)));
                    y = Respond(model, Copies(x, g, offsets[f], tensor(patch, [1, g, feature.Width]).expand(count, g, feature.Width)), work.Logit, out var c);
                    classes = c;
                }
                pdp ??= [.. Enumerable.Range(0, g * classes).Select(_ => new ExactSum())];
                ale ??= [.. Enumerable.Range(0, feature.Categorical ? 0 : (g - 1) * classes).Select(_ => new ExactSum())];
                for (var r = 0; r < count; r++)
                {
                    var row = (long)r * g * classes;
                    for (var i = 0; i < g * classes; i++) pdp[i].Add(y[row + i]);
                    if (!feature.Categorical)
                    {
                        var bin = Bin(grid, data.Raw[(long)(start + r) * width + offsets[f]]);
                        aleCount[bin - 1]++;
                        for (var c = 0; c < classes; c++)
                            ale[(bin - 1) * classes + c].Add((double)y[row + bin * classes + c] - y[row + (bin - 1) * classes + c]);
                    }
                    if (Array.BinarySearch(ice, data.Start + start + r) >= 0) iceCurves.AddRange(y.AsSpan((int)row, g * classes).ToArray());
                }
            }
            curves[k] = new CurveSums([.. (pdp ?? []).Select(s => s.Partials)], [.. (ale ?? []).Select(s => s.Partials)], aleCount, ice, [.. iceCurves]);
        }

        var (labelled, baseCorrect, correct) = work.Repeats > 0 && data.Labels is { } labels
            ? Permutation(model, table, offsets, width, data, shardRaw, preprocess, work, labels, batch, ct, clock)
            : (0L, 0L, Array.Empty<long>());
        return new DependencePostPartial(data.Count, classes, curves, labelled, baseCorrect, correct);
    }

    /// <summary>
    /// The bin of a row's own value v among the grid's G − 1 bins: bin k holds z_{k−1} &lt; v ≤ z_k, bin 1 also v ≤ z_0, and bin
    /// G − 1 also v &gt; z_{G−1} (values outside the sample's range go to the end bins).
    /// </summary>
    public static int Bin(float[] grid, float value)
    {
        for (var k = 1; k < grid.Length; k++)
            if (value <= grid[k]) return k;
        return grid.Length - 1;
    }

    /// <summary>
    /// The sample value row <paramref name="index"/> takes for feature <paramref name="feature"/> in repeat <paramref name="repeat"/>:
    /// position hash(seed, feature, repeat, index) mod m of the sample.
    /// </summary>
    public static int Draw(int seed, int feature, int repeats, int repeat, long index, int sampleRows) =>
        (int)(SampleSeeds.For((long)SampleSeeds.For(seed, (long)feature * repeats + repeat), index) % (ulong)sampleRows);

    /// <summary>A feature's encoded elements for each value (a number, or a level index): [values, the feature's width] row-major.</summary>
    public static float[] Patches(TableFeature feature, IReadOnlyList<float> values)
    {
        var patch = new float[values.Count * feature.Width];
        for (var v = 0; v < values.Count; v++)
        {
            if (feature.Encoding == FeatureEncoding.OneHot) patch[v * feature.Width + (int)values[v]] = 1;
            else patch[v * feature.Width] = values[v];
        }
        return patch;
    }

    /// <summary>
    /// <paramref name="copies"/> copies of each row of x [n, width], the feature's elements from <paramref name="offset"/> set to
    /// <paramref name="patch"/> [n, copies, feature width]: [n · copies, width], row r's copies together.
    /// </summary>
    private static Tensor Copies(Tensor x, int copies, int offset, Tensor patch)
    {
        var (n, width) = (x.shape[0], x.shape[1]);
        var set = x.unsqueeze(1).expand(n, copies, width).clone();
        set.narrow(2, offset, patch.shape[2]).copy_(patch.to(x.dtype).to(x.device));
        return set.reshape(n * copies, width);
    }

    private static float[] Respond(ExplainModel model, Tensor x, bool logit, out int classes)
    {
        using var noGrad = no_grad();
        var output = model.Forward(x);
        classes = (int)output.shape[1];
        var response = (logit ? output : output.softmax(1)).to(float32).cpu();
        return response.data<float>().ToArray();
    }

    private static (long Labelled, long BaseCorrect, long[] Correct) Permutation(ExplainModel model, TableSpec table, int[] offsets, int width, ShardData data,
        Tensor shardRaw, Preprocessor preprocess, DependenceWork work, long[] labels, int batch, CancellationToken ct, BatchClock? clock)
    {
        var (features, repeats) = (table.Features.Length, work.Repeats);
        var correct = new long[features * repeats];
        long baseCorrect = 0;
        for (var start = 0; start < data.Count; start += batch)
        {
            ct.ThrowIfCancellationRequested();
            clock?.Tick();
            var count = Math.Min(batch, data.Count - start);
            using var scope = NewDisposeScope();
            var x = model.PrepareInput(preprocess.Apply(shardRaw.narrow(0, start, count)));
            var predicted = Predict(model, x);
            for (var r = 0; r < count; r++) if (predicted[r] == labels[start + r]) baseCorrect++;
            for (var j = 0; j < features; j++)
            {
                var feature = table.Features[j];
                var values = work.Values[j];
                var drawn = new float[count * repeats];
                for (var r = 0; r < count; r++)
                    for (var rep = 0; rep < repeats; rep++)
                        drawn[r * repeats + rep] = values[Draw(work.Seed, j, repeats, rep, data.Start + start + r, values.Length)];
                var permuted = Predict(model, Copies(x, repeats, offsets[j], tensor(Patches(feature, drawn), [count, repeats, feature.Width])));
                for (var r = 0; r < count; r++)
                    for (var rep = 0; rep < repeats; rep++)
                        if (permuted[r * repeats + rep] == labels[start + r]) correct[j * repeats + rep]++;
            }
        }
        return (data.Count, baseCorrect, correct);
    }

    private static long[] Predict(ExplainModel model, Tensor x)
    {
        using var noGrad = no_grad();
        return model.Forward(x).argmax(1).cpu().data<long>().ToArray();
    }
}
