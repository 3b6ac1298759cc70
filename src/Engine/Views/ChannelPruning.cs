using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// Channel pruning at a layer, in two passes of sums that add across shards. The importance pass zeroes each channel
/// of the layer's output alone; <see cref="PruningSummary.Rank"/> orders the channels from the merged sums; the curve
/// pass zeroes the k least important together for each k of <see cref="PruningSummary.CurvePoints"/>.
/// The layer's features ([n, channels, …], e.g. [n, C, H, W] or a Linear's [n, C]) are computed once per chunk of
/// samples; each configuration (a mask over channels) is a copy of them through the head, many configurations to one
/// head call, at most <c>maxRows</c> rows a call. Synchronous tensor work on the model's device: call it on a thread
/// you own.
/// </summary>
public static class ChannelPruning
{
    /// <param name="inputs">[n, …] in the model's input space (preprocessed).</param>
    /// <param name="labels">[n] int64, or null: then the correct counts are 0.</param>
    /// <param name="targets">[n] int64: the class whose probability is summed for each sample.</param>
    public static ImportanceSums Importance(ExplainModel model, string layer, Tensor inputs, Tensor? labels, Tensor targets, int maxRows)
    {
        using var scope = NewDisposeScope();
        var split = SplitOf(model, layer, inputs);
        var channels = Channels(model, split, inputs);
        // Configuration 0 keeps every channel (the baseline), configuration 1 + c zeroes channel c.
        var masks = cat([ones(1, channels), ones(channels, channels) - eye(channels)]);
        var (correct, probability) = Sweep(model, split, inputs, labels, targets, masks, maxRows);
        return new ImportanceSums(labels is not null, inputs.shape[0], correct[0], probability[0], correct[1..], probability[1..]);
    }

    /// <param name="order">The global ranking, least important channel first (<see cref="ChannelRanking.Order"/>).</param>
    /// <param name="removed">The counts k, starting at 0 (<see cref="PruningSummary.CurvePoints"/>).</param>
    public static CurveSums Curve(
        ExplainModel model, string layer, Tensor inputs, Tensor? labels, Tensor targets, IReadOnlyList<int> order, int[] removed, int maxRows)
    {
        using var scope = NewDisposeScope();
        var split = SplitOf(model, layer, inputs);
        var channels = Channels(model, split, inputs);
        if (order.Count != channels || order.Distinct().Count() != channels || order.Any(c => c < 0 || c >= channels))
            throw new ArgumentException($"the ranking must order the layer's {channels} channels", nameof(order));
        if (removed is not [0, ..] || removed.Any(k => k < 0 || k > channels))
            throw new ArgumentException($"the counts must start at 0 and lie in 0..{channels}", nameof(removed));
        // Row i zeroes the first removed[i] channels of the ranking: rank[c] < k.
        var rank = new long[channels];
        for (var i = 0; i < channels; i++) rank[order[i]] = i;
        var masks = (tensor(rank).unsqueeze(0) >= tensor(removed.Select(k => (long)k).ToArray()).unsqueeze(1)).to(float32);
        var (correct, probability) = Sweep(model, split, inputs, labels, targets, masks, maxRows);
        return new CurveSums(labels is not null, inputs.shape[0], removed, correct, probability);
    }

    private static ILayerSplit SplitOf(ExplainModel model, string layer, Tensor inputs)
    {
        if (inputs.shape[0] == 0) throw new ArgumentException("no samples", nameof(inputs));
        var split = model.Split(layer);
        using var probe = model.PrepareInput(inputs.narrow(0, 0, 1));
        model.VerifySplit(split, probe);
        return split;
    }

    private static long Channels(ExplainModel model, ILayerSplit split, Tensor inputs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var features = model.Invoke(inputs, () => split.Features(model.PrepareInput(inputs.narrow(0, 0, 1))));
        if (features.dim() < 2)
            throw new ExplainException($"pruning layer \"{split.Layer}\" gives [{string.Join(", ", features.shape)}]; expected [n, channels, …]");
        return features.shape[1];
    }

    /// <summary>
    /// For each configuration (a row of <paramref name="masks"/> [m, channels], 1 keeps a channel, 0 zeroes it): the
    /// samples correct (0 without labels) and Σ target probability over all samples.
    /// </summary>
    private static (long[] Correct, double[] Probability) Sweep(
        ExplainModel model, ILayerSplit split, Tensor inputs, Tensor? labels, Tensor targets, Tensor masks, int maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        var n = inputs.shape[0];
        if (targets.shape is not [var t0] || t0 != n || labels is not null && (labels.shape is not [var l0] || l0 != n))
            throw new ArgumentException($"targets and labels must be [{n}], one per sample");
        using var _ = no_grad();
        var configurations = (int)masks.shape[0];
        var correct = new long[configurations];
        var probability = new double[configurations];
        var chunk = Math.Min(n, maxRows);
        var group = (int)Math.Max(1, maxRows / chunk);
        masks = masks.to(model.Device);
        for (long start = 0; start < n; start += chunk)
        {
            using var chunkScope = NewDisposeScope();
            var rows = Math.Min(chunk, n - start);
            var x = model.PrepareInput(inputs.narrow(0, start, rows));
            var features = model.Invoke(x, () => split.Features(x));
            var y = labels?.narrow(0, start, rows).to(model.Device);
            var t = targets.narrow(0, start, rows).to(model.Device).view(1, rows, 1);
            // masks [g, C] → [g, 1, C, 1, …] against features [rows, C, …].
            var trailing = Enumerable.Repeat(1L, (int)features.dim() - 2);
            for (var first = 0; first < configurations; first += group)
            {
                using var groupScope = NewDisposeScope();
                var g = Math.Min(group, configurations - first);
                var mask = masks.narrow(0, first, g).view([g, 1, features.shape[1], .. trailing]).to(features.dtype);
                var zeroed = (features.unsqueeze(0) * mask).flatten(0, 1);
                var logits = model.Invoke(x, () => split.Head(zeroed)).view(g, rows, -1);
                var p = logits.softmax(-1).gather(-1, t.expand(g, rows, 1)).squeeze(-1).to(float64).sum(1);
                var sums = p.cpu().data<double>().ToArray();
                for (var i = 0; i < g; i++) probability[first + i] += sums[i];
                if (y is null) continue;
                var hits = logits.argmax(-1).eq(y.unsqueeze(0)).sum(1).cpu().data<long>().ToArray();
                for (var i = 0; i < g; i++) correct[first + i] += hits[i];
            }
        }
        return (correct, probability);
    }
}
