using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// The tensor work of one shard, synchronous and on the caller's thread: batches of the shard go
/// through one shared forward/backward, every method reads its maps from it, and the results leave
/// as plain arrays. Each batch lives in its own dispose scope.
/// </summary>
public static class ShardExplainer
{
    public static readonly ActivitySource Activities = new("ExplainCluster.Engine");

    /// <summary>The shard's results; <paramref name="clock"/>, if given, is ticked as each batch begins.</summary>
    /// <param name="chosen">
    /// The samples of the job's stratified subsets (<see cref="SampleSelection"/>) within this shard, as the job chose
    /// them; null to choose them from this shard alone (exact when the shard is the whole dataset).
    /// </param>
    /// <param name="concepts">The job's concept activation vectors (TCAV), trained once per job; required when the job has a concepts block.</param>
    public static ShardResult Compute(ExplainModel model, JobSpec job, ShardData data, CancellationToken ct = default, BatchClock? clock = null,
        long[][]? chosen = null, Concepts.ConceptVectors? concepts = null)
    {
        var watch = Stopwatch.StartNew();
        var plan = JobPlan.Of(job);
        if (plan.Samples.Length > 0)
            chosen ??= SampleSelection.Chosen(SampleSelection.Compute(model, job, data, ct, clock), plan.SampleSubsets);
        var configured = plan.Methods.Select(m => (m.Method, Subset: plan.SubsetOf(m, chosen))).ToArray();
        var methods = configured.Select(c => c.Method).ToArray();
        var layers = methods.Select(m => m.Layer).OfType<string>().Distinct().ToArray();
        if (layers.Length > 1) throw new ExplainException("methods: one split layer per job");
        var split = layers.Length == 1 ? model.Split(layers[0]) : null;
        var explainLabels = job.Target == TargetMode.Label;
        var segments = data.Segments ?? (plan.Segments is { } spec ? JobSegments.Compute(spec, job.Data.Preprocess, data) : null);

        var n = data.Count;
        var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
        var batchSize = job.BatchSize;
        // On a table, the methods that forward perturbed rows built from the data's (a background, lime's training rows)
        // send up to RowBudget of them through the model at once; the others batchSize.
        var perturbedRows = plan.Features is null ? batchSize : Data.Tables.FeatureGroups.RowBudget(batchSize, plan.Features.Width);

        float[] logits = [];
        var predictions = new int[n];
        var confidence = new float[n];
        var loss = data.Labels is null ? null : new float[n];
        var targets = new long[n];
        var outputs = new MapCollector[methods.Length][];
        // Faithfulness evaluates every method whose maps lie over the pixels, on the samples it explains (a subset's too).
        var scored = configured.Select(c => c.Method.MapsPixels).ToArray();
        var position = scored.Select((s, m) => scored.Take(m).Count(x => x)).ToArray();
        var faithfulness = job.Faithfulness is { } f ? new FaithfulnessRecorder(f, [.. configured.Where((c, m) => scored[m]).Select(c => c.Method.Name)], n) : null;
        // Trust metrics evaluate the pixel-map methods the trust block names (all of them by default).
        var trusted = configured.Select(c => job.Trust is { } t && c.Method.MapsPixels && (t.Methods is null || t.Methods.Contains(c.Method.Name))).ToArray();
        var trustPosition = trusted.Select((s, m) => trusted.Take(m).Count(x => x)).ToArray();
        var trust = job.Trust is { } ts ? new Trust.TrustRecorder(ts, [.. methods.Where((_, m) => trusted[m])], plan.TrustSubsetOf(chosen)!, split, n) : null;
        var tcav = job.Concepts is { } conceptSpec && n > 0
            ? new Concepts.TcavRecorder(model, concepts ?? throw new InvalidOperationException("the job's concept vectors were not given"),
                Concepts.ConceptLayer.Split(model, conceptSpec.Layer, job, data), split?.Layer == conceptSpec.Layer, n, conceptSpec.Alpha)
            : null;
        var classes = 0;
        // A method's k-means background, summarised once per shard (the same sample in every shard, so the same summary).
        var summaries = new (float[] Centroids, double[] Weights)?[methods.Length];

        // The shard's samples as one tensor, checked once; batches are views of it.
        using var shardRaw = tensor(data.Raw, [n, .. data.SampleShape.Select(d => (long)d)]);
        CheckFinite(shardRaw, data.IndexOf);
        var views = Views.ShardViews.For(model, plan, () => model.PrepareInput(preprocess.Apply(shardRaw.narrow(0, 0, 1))),
            plan.KnnSample is { } knn ? plan.Chosen(chosen, knn).ToHashSet() : null);

        for (var start = 0; start < n; start += batchSize)
        {
            // A cancelled job (or a superseded attempt) stops here, between batches.
            ct.ThrowIfCancellationRequested();
            clock?.Tick();
            var count = Math.Min(batchSize, n - start);
            using var activity = Activities.StartActivity("model.batch");
            activity?.SetTag("explain.batch.start", data.IndexOf(start));
            activity?.SetTag("explain.batch.size", count);
            using var scope = NewDisposeScope();

            var input = model.PrepareInput(preprocess.Apply(shardRaw.narrow(0, start, count)));
            var labelSlice = data.Labels?.AsSpan(start, count).ToArray();
            var labelTensor = labelSlice is null ? null : tensor(labelSlice).to(model.Device);

            var batch = GradientBatch.Compute(model, input, explainLabels ? labelTensor : null, split, methods.Any(m => m.UsesSharedGradients),
                views?.Capture);
            if (batch.Logits.dim() != 2)
                throw new ExplainException($"model output has shape [{string.Join(", ", batch.Logits.shape)}]; expected [batch, classes] logits");
            if (classes == 0)
            {
                classes = (int)batch.Logits.shape[1];
                ValidateClasses(job, classes);
                logits = new float[(long)n * classes];
                for (var m = 0; m < methods.Length; m++)
                    outputs[m] = [new MapCollector(methods[m].Name, methods[m].Columns, n, configured[m].Subset.IsAll,
                            plan.Features is { } groups ? [groups.Names.Length] : []), // a table method's map is a value per feature, rows or none
                        .. methods[m].ExtraMaps.Select(name => new MapCollector(name, [], n, configured[m].Subset.IsAll))];
            }
            var indices = new long[count];
            for (var i = 0; i < count; i++) indices[i] = data.IndexOf(start + i);
            if (labelSlice is not null) CheckLabels(labelSlice, classes, indices);

            var cpuLogits = batch.Logits.cpu();
            model.CheckFinite(cpuLogits, indices);
            cpuLogits.data<float>().CopyTo(logits.AsSpan(start * classes, count * classes));
            var logProbabilities = nn.functional.log_softmax(cpuLogits, 1);
            var (maxLog, argmax) = logProbabilities.max(1);
            maxLog.exp().data<float>().CopyTo(confidence.AsSpan(start, count));
            var predicted = argmax.data<long>().ToArray();
            for (var i = 0; i < count; i++) predictions[start + i] = (int)predicted[i];
            if (labelTensor is not null)
            {
                var nll = -logProbabilities.gather(1, labelTensor.cpu().unsqueeze(1)).squeeze(1);
                nll.data<float>().CopyTo(loss.AsSpan(start, count));
            }
            views?.Add(batch, classes, indices, labelSlice);
            var batchTargets = batch.Targets.cpu().data<long>().ToArray();
            batchTargets.CopyTo(targets, start);

            var methodBatch = new MethodBatch(model, batch, indices, batchSize,
                segments is null ? null : BatchSegmentsOf(segments, start, count, model.Device), labelTensor, plan.Features);
            var maps = new List<(int, Tensor, int[]?)>();
            var trustMaps = new List<(int, Tensor, int[]?)>();
            for (var m = 0; m < methods.Length; m++)
            {
                var subset = configured[m].Subset;
                int[]? rows = null;
                if (!subset.IsAll)
                {
                    rows = [.. Enumerable.Range(0, count).Where(i => subset.Includes(indices[i]))];
                    if (rows.Length == 0) continue;
                }
                var rowsBatch = rows is null ? methodBatch : methodBatch.Select(rows);
                if (methods[m].Background is not null)
                {
                    var background = BackgroundOf(model, data, preprocess, plan.BackgroundOf(plan.Methods[m], chosen));
                    rowsBatch = methods[m].BackgroundSummary is { } summary
                        ? WithSummary(rowsBatch, summaries[m] ??= summary.Summarise(background.cpu().data<float>().ToArray(), plan.Features!), model.Device)
                        : rowsBatch.WithBackground(background);
                    rowsBatch = rowsBatch.WithMaxRows(perturbedRows);
                }
                var output = methods[m].Attribute(rowsBatch);
                if (plan.Features is { } features) output = features.Sum(output);
                var extra = output.Extra ?? [];
                if (extra.Count != outputs[m].Length - 1)
                    throw new InvalidOperationException($"{methods[m].Name} gave {extra.Count} extra maps, declared {outputs[m].Length - 1}");
                outputs[m][0].Add(start, output.Maps, output.Columns, rows);
                for (var e = 0; e < extra.Count; e++) outputs[m][e + 1].Add(start, extra[e], [], rows);
                if (scored[m]) maps.Add((position[m], output.Maps, rows));
                if (trusted[m]) trustMaps.Add((trustPosition[m], output.Maps, rows));
            }
            faithfulness?.Add(start, methodBatch, maps);
            trust?.Add(start, methodBatch, trustMaps);
            tcav?.Add(start, batch);
        }

        var sanity = job.Sanity is { } check ? Sanity(model, job, check, [.. methods.Where(m => m.MapsPixels && (check.Methods is null || check.Methods.Contains(m.Name)))], data, shardRaw, preprocess, targets, predictions, classes,
            segments, plan.Chosen(chosen, plan.SanitySample!), ct, clock) : null;
        // Param-grads says which layers it ran and how (vectorised, or a per-sample loop and why) for the manifest and summary.
        var paramLayers = methods.OfType<ParamGradsMethod>().FirstOrDefault()?.For(model).Layers
            .Select(l => new ParamGradLayer(l.Name, l.Parameters, l.Vectorised, l.How)).ToArray();
        var pruningRows = plan.PruningSample is { } pruning ? plan.Chosen(chosen, pruning) : null;
        var viewParts = views?.Finish(model, data, indices => RowsOf(model, data, shardRaw, preprocess, indices), targets, pruningRows);
        return new ShardResult(data.Start, n, classes, data.Labels, targets, logits, predictions, confidence, loss,
            [.. outputs.SelectMany(o => o).Select(o => o.Output())], watch.Elapsed.TotalSeconds, faithfulness?.Result(), segments, sanity, paramLayers,
            viewParts, trust?.Result(), tcav?.Result(), data.Kept);
    }

    /// <summary>Given dataset indices of this shard, preprocessed as the model takes them.</summary>
    internal static Tensor RowsOf(ExplainModel model, ShardData data, Tensor shardRaw, Preprocessor preprocess, long[] indices) =>
        model.PrepareInput(preprocess.Apply(shardRaw.index_select(0, tensor(indices.Select(i => (long)Row(data, i)).ToArray()))));

    /// <summary>The row of dataset index <paramref name="index"/>, which the shard must hold.</summary>
    internal static int Row(ShardData data, long index) => data.RowOf(index) is var row and >= 0 ? row
        : throw new InvalidOperationException($"sample {index} is not among shard {data.Start}..'s samples");

    /// <summary>
    /// Rows at dataset <paramref name="indices"/>, preprocessed as the model takes them: this shard's from its own samples,
    /// the others' from the rows the pipeline read for it (<see cref="ShardData.Outside"/>).
    /// </summary>
    private static Tensor BackgroundOf(ExplainModel model, ShardData data, Preprocessor preprocess, long[] indices)
    {
        var size = data.SampleShape.Aggregate(1, (a, b) => a * b);
        var raw = new float[(long)indices.Length * size];
        for (var r = 0; r < indices.Length; r++)
        {
            var i = indices[r];
            ReadOnlySpan<float> row = data.RowOf(i) is var own and >= 0 ? data.Raw.AsSpan(own * size, size)
                : data.Outside is { } outside && Array.BinarySearch(outside.Indices, i) is var at and >= 0 ? outside.Raw.AsSpan(at * size, size)
                : throw new InvalidOperationException($"background row {i} is neither in shard {data.Start}.. nor read for it");
            row.CopyTo(raw.AsSpan(r * size, size));
        }
        return model.PrepareInput(preprocess.Apply(tensor(raw, [indices.Length, .. data.SampleShape.Select(d => (long)d)])));
    }

    /// <summary>The batch with a k-means summary as its background: the centroids, each weighted by its share of the sample's rows.</summary>
    private static MethodBatch WithSummary(MethodBatch batch, (float[] Centroids, double[] Weights)? summary, Device device)
    {
        var (centroids, weights) = summary!.Value;
        var total = weights.Sum();
        return batch.WithBackground(tensor(centroids, [weights.Length, centroids.Length / weights.Length]).to(device),
            tensor(weights.Select(w => w / total).ToArray()).to(device));
    }

    /// <summary>The sanity check on this shard's part of the sanity sample (<paramref name="chosen"/>); null when it has none.</summary>
    private static Sanity.SanityResult? Sanity(ExplainModel model, JobSpec job, SanitySpec check, IAttributionMethod[] methods, ShardData data,
        Tensor shardRaw, Preprocessor preprocess, long[] targets, int[] predictions, int classes, Segmentation.SegmentedBatch? segments, long[] chosen,
        CancellationToken ct, BatchClock? clock)
    {
        if (chosen.Length == 0) return null;
        ct.ThrowIfCancellationRequested();
        clock?.Tick();
        using var activity = Activities.StartActivity("model.sanity");
        activity?.SetTag("explain.sanity.samples", chosen.Length);
        using var scope = NewDisposeScope();
        var rows = chosen.Select(i => Row(data, i)).ToArray();
        var input = RowsOf(model, data, shardRaw, preprocess, chosen);
        BatchSegments? rowSegments = null;
        if (segments is not null)
        {
            var pixels = segments.Height * segments.Width;
            var labels = rows.SelectMany(r => segments.Labels.AsSpan(r * pixels, pixels).ToArray()).ToArray();
            rowSegments = new BatchSegments(tensor(labels, [rows.Length, segments.Height, segments.Width]).to(ScalarType.Int64).to(model.Device),
                [.. rows.Select(r => segments.Counts[r])]);
        }
        // Each sample's stratum, as the sample was drawn by: its weight in the summary is its stratum's share of the dataset.
        var strata = rows.Select(r => SampleSelection.Stratum(targets[r], data.Labels is { } l && l[r] == predictions[r])).ToArray();
        return ExplainCluster.Engine.Sanity.SanityCheck.Run(model, methods, input, [.. rows.Select(r => targets[r])], chosen, rowSegments, job.BatchSize, check.Seed,
            strata, 2 * classes);
    }

    private static BatchSegments BatchSegmentsOf(Segmentation.SegmentedBatch segments, int start, int count, Device device)
    {
        var pixels = segments.Height * segments.Width;
        var labels = tensor(segments.Labels.AsSpan(start * pixels, count * pixels).ToArray(), [count, segments.Height, segments.Width]);
        return new BatchSegments(labels.to(ScalarType.Int64).to(device), segments.Counts.AsSpan(start, count).ToArray());
    }

    internal static void CheckFinite(Tensor raw, Func<int, long> indexOf)
    {
        using var scope = NewDisposeScope();
        if (isfinite(raw).all().item<bool>()) return;
        var bad = (~isfinite(raw).flatten(1).all(1)).nonzero()[0, 0].item<long>();
        throw new ExplainException($"inputs contain NaN or Inf at sample {indexOf((int)bad)}");
    }

    internal static void CheckLabels(long[] labels, int classes, long[] indices)
    {
        for (var i = 0; i < labels.Length; i++)
            if (labels[i] < 0 || labels[i] >= classes)
                throw new ExplainException($"label {labels[i]} at sample {indices[i]} is outside the model's classes 0..{classes - 1}");
    }

    private static void ValidateClasses(JobSpec job, int classes)
    {
        if (job.Model.Classes is { } names && names.Length != classes)
            throw new ExplainException($"model.classes has {names.Length} names but the model outputs {classes} logits");
    }

    /// <summary>
    /// Collects one method's maps and columns over a shard into row-major arrays: a row per sample, or for a
    /// method with a subset a row per sample it explained, in shard order, with their positions.
    /// </summary>
    /// <param name="shape">Its map's shape where it is known before any rows (a table's features): a shard with none of a
    /// method's subset has the same shape as one with rows, so its partials merge with theirs.</param>
    private sealed class MapCollector(string name, IReadOnlyList<string> columns, int samples, bool everySample, int[]? shape = null)
    {
        private readonly float[][] _columns = [.. columns.Select(_ => Enumerable.Repeat(float.NaN, samples).ToArray())];
        private readonly List<int> _rows = [];
        private int[] _mapShape = shape ?? [];
        private int _mapSize;
        private float[] _maps = [];

        /// <param name="rows">The batch positions the output's rows belong to; null for the whole batch.</param>
        public void Add(int start, Tensor batchMaps, IReadOnlyList<Tensor> batchColumns, int[]? rows)
        {
            var maps = batchMaps.detach().to(ScalarType.Float32).cpu().contiguous();
            if (_mapSize == 0)
            {
                int[] computed = [.. maps.shape.Skip(1).Select(d => (int)d)];
                if (shape is { Length: > 0 } && !computed.SequenceEqual(shape))
                    throw new InvalidOperationException($"{name}'s maps are [{string.Join(", ", computed)}], not [{string.Join(", ", shape)}]");
                _mapShape = computed;
                _mapSize = _mapShape.Aggregate(1, (a, b) => a * b);
            }
            var count = (int)maps.shape[0];
            // Room for every sample at once when the method explains them all; a subset's buffer grows with its rows.
            var needed = (long)(_rows.Count + count) * _mapSize;
            if (_maps.Length < needed)
                Array.Resize(ref _maps, (int)(everySample ? (long)samples * _mapSize : Math.Min((long)samples * _mapSize, Math.Max(needed, 2L * _maps.Length))));
            maps.data<float>().CopyTo(_maps.AsSpan(_rows.Count * _mapSize, count * _mapSize));
            var positions = rows?.Select(r => start + r).ToArray() ?? [.. Enumerable.Range(start, count)];
            if (batchColumns.Count != _columns.Length)
                throw new InvalidOperationException($"{name} gave {batchColumns.Count} columns, declared {_columns.Length}");
            for (var c = 0; c < _columns.Length; c++)
            {
                var values = batchColumns[c].detach().cpu().to(ScalarType.Float32).data<float>().ToArray();
                for (var k = 0; k < count; k++) _columns[c][positions[k]] = values[k];
            }
            _rows.AddRange(positions);
        }

        public MethodMaps Output() => new(name, _mapShape,
            _maps.Length == _rows.Count * _mapSize ? _maps : _maps.AsSpan(0, _rows.Count * _mapSize).ToArray(), // copied only when a subset's buffer has room to spare
            [.. columns.Select((column, c) => new SampleColumn(column, _columns[c]))], everySample ? null : [.. _rows]);
    }
}
