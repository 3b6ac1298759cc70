using ExplainCluster.Engine.Features;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Compare;

/// <summary>
/// One layer's per-class activation sums in A's and B's models, where both models have the layer with the same output
/// shape: per class (by label) the number of samples and the sums of each channel's mean activation (a 4-D or 3-D output
/// averaged over its positions, a 2-D one as it is). They fold across ranges; <see cref="Change"/> turns them into each
/// class's mean activation vectors in A and B and how far they moved.
/// </summary>
public sealed class LayerDrift(string layer, int channels, int classes)
{
    public string Layer { get; } = layer;

    public int Channels { get; } = channels;

    /// <summary>Samples per class.</summary>
    public long[] Count { get; private init; } = new long[classes];

    /// <summary>[class × Channels + channel] sums of A's and B's channel means.</summary>
    public double[] SumA { get; private init; } = new double[classes * channels];

    public double[] SumB { get; private init; } = new double[classes * channels];

    /// <summary>A batch's outputs at the layer as [n, channels] float64: each channel's mean over the positions (taken in the model's float32, about 1e-7 relative).</summary>
    public static Tensor ChannelMeans(Tensor activations) =>
        (activations.dim() > 2 ? activations.flatten(2).mean([2]) : activations.flatten(1)).to(float64);

    /// <summary>Adds a batch: its channel means in A and B [n, channels] and its labels (−1 or out of range: not counted). On a model-host thread.</summary>
    public void Add(Tensor meansA, Tensor meansB, ReadOnlySpan<int> labels)
    {
        using var scope = NewDisposeScope();
        var k = Count.Length;
        var rows = new double[labels.Length * k];
        for (var i = 0; i < labels.Length; i++)
            if ((uint)labels[i] < k)
            {
                rows[i * k + labels[i]] = 1;
                Count[labels[i]]++;
            }
        var onehot = tensor(rows, [labels.Length, k]);
        var (a, b) = (onehot.t().mm(meansA).contiguous().data<double>().ToArray(), onehot.t().mm(meansB).contiguous().data<double>().ToArray());
        Totals.Add(SumA, a);
        Totals.Add(SumB, b);
    }

    public static void Fold(LayerDrift total, LayerDrift part)
    {
        if (total.Channels != part.Channels) throw new ArgumentException($"layer {part.Layer}: {part.Channels} channels folded into {total.Channels}");
        Totals.Add(total.Count, part.Count);
        Totals.Add(total.SumA, part.SumA);
        Totals.Add(total.SumB, part.SumB);
    }

    /// <summary>Per class with samples: the relative change ‖μB − μA‖ / ‖μA‖ of its mean activations and their cosine.</summary>
    public ActivationChange Change(string[] names)
    {
        var classes = new List<ClassActivationChange>();
        for (var c = 0; c < Count.Length; c++)
        {
            if (Count[c] == 0) continue;
            double diff = 0, normA = 0, normB = 0, dot = 0;
            for (var j = 0; j < Channels; j++)
            {
                var (ma, mb) = (SumA[c * Channels + j] / Count[c], SumB[c * Channels + j] / Count[c]);
                diff += (mb - ma) * (mb - ma);
                (normA, normB, dot) = (normA + ma * ma, normB + mb * mb, dot + ma * mb);
            }
            classes.Add(new ClassActivationChange(c, c < names.Length ? names[c] : c.ToString(System.Globalization.CultureInfo.InvariantCulture), Count[c],
                normA == 0 ? double.NaN : Math.Sqrt(diff / normA), normA == 0 || normB == 0 ? double.NaN : dot / Math.Sqrt(normA * normB)));
        }
        return new ActivationChange(Layer, Channels, [.. classes.OrderByDescending(x => double.IsNaN(x.RelativeChange) ? -1 : x.RelativeChange).ThenBy(x => x.Class)]);
    }

    public void Write(BinaryWriter w)
    {
        w.Write(Layer);
        w.Write(Channels);
        PartialIO.Write(w, Count);
        PartialIO.Write(w, SumA);
        PartialIO.Write(w, SumB);
    }

    public static LayerDrift Read(BinaryReader r)
    {
        var (layer, channels) = (r.ReadString(), r.ReadInt32());
        var count = PartialIO.Read<long>(r);
        return new LayerDrift(layer, channels, count.Length) { Count = count, SumA = PartialIO.Read<double>(r), SumB = PartialIO.Read<double>(r) };
    }
}

/// <summary>How a layer's per-class mean activations moved from A to B: its classes, largest relative change first.</summary>
public sealed record ActivationChange(string Layer, int Channels, ClassActivationChange[] Classes);

/// <param name="RelativeChange">‖μB − μA‖ / ‖μA‖ of the class's mean channel activations (0: unchanged).</param>
/// <param name="Cosine">The cosine of μA and μB (1: the same direction).</param>
public sealed record ClassActivationChange(int Class, string Name, long N, double RelativeChange, double Cosine);
