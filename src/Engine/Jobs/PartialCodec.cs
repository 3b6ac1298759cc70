using System.Runtime.InteropServices;
using System.Text;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// A shard's staged partial statistics (partial.bin) as raw little-endian arrays. A wide model's partial is
/// tens of MB of doubles: as JSON it took 2.5× the bytes and, with its growing buffers, several times that
/// in transient memory per shard. Doubles are copied bit for bit, so a resumed job refolds exactly the sums
/// the shard computed.
/// </summary>
public static class PartialCodec
{
    private const int Magic = 0x31504345; // "ECP1"

    /// <summary>The encoded partial, in the buffer it was written to (no second copy of tens of MB).</summary>
    public static ReadOnlyMemory<byte> Encode(ShardPartial p)
    {
        using var stream = new MemoryStream(checked((int)Math.Min(int.MaxValue, p.ApproxBytes + 4096)));
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(p.ShardIndex);
            w.Write(p.Count);
            w.Write(p.Silo);
            w.Write(p.Seconds);
            w.Write(p.Attempt);
            w.Write(p.Staged);
            Write(w, p.PredictedCounts);
            Write(w, p.InputShape);
            Write(w, p.InputClassSum);
            Write(w, p.InputClassCount);
            w.Write(p.Methods.Length);
            foreach (var m in p.Methods)
            {
                w.Write(m.Method);
                Write(w, m.MapShape);
                Write(w, m.ClassCounts);
                Write(w, m.ClassSum);
                Write(w, m.AbsSum);
            }
            w.Write(p.Errors is not null);
            if (p.Errors is { } e)
            {
                Write(w, e.Confusion);
                w.Write(e.SumNll);
                Write(w, e.BinCount);
                Write(w, e.BinConfidence);
                Write(w, e.BinCorrect);
                w.Write(e.TopLoss.Length);
                foreach (var t in e.TopLoss)
                {
                    w.Write(t.Index);
                    w.Write(t.Loss);
                    w.Write(t.Label);
                    w.Write(t.Prediction);
                    w.Write(t.Confidence);
                    w.Write(t.Shard);
                    w.Write(t.Row);
                }
            }
            w.Write(p.Faithfulness is not null);
            if (p.Faithfulness is { } f)
            {
                w.Write(f.Steps);
                Write(w, f.ClassCounts);
                w.Write(f.Methods.Length);
                foreach (var m in f.Methods)
                {
                    w.Write(m.Method);
                    foreach (var sums in new[] { m.Deletion, m.Insertion, m.ClassAuc }) Write(w, sums);
                }
            }
            w.Write(p.Sanity is not null);
            if (p.Sanity is { } s)
            {
                w.Write(s.Layers.Length);
                foreach (var layer in s.Layers) w.Write(layer);
                w.Write(s.Count);
                w.Write(s.Methods.Length);
                foreach (var m in s.Methods)
                {
                    w.Write(m.Method);
                    Write(w, m.Spearman);
                    Write(w, m.Ssim);
                }
                w.Write(s.Example is not null);
                if (s.Example is { } example)
                {
                    w.Write(example.Index);
                    w.Write(example.Height);
                    w.Write(example.Width);
                    Write(w, example.Scores);
                }
            }
            w.Write(p.ParamGrads is not null);
            if (p.ParamGrads is { } g)
            {
                w.Write(g.Layers.Length);
                foreach (var l in g.Layers)
                {
                    w.Write(l.Name);
                    w.Write(l.Parameters);
                    w.Write(l.Vectorised);
                    w.Write(l.How);
                }
                Write(w, g.CellCounts);
                Write(w, g.CellNormSums);
                Write(w, g.CellHistograms);
                w.Write(g.Largest.Length);
                foreach (var entry in g.Largest)
                {
                    w.Write(entry.Index);
                    w.Write(entry.Norm);
                    w.Write(entry.Label);
                    w.Write(entry.Prediction);
                    w.Write(entry.Shard);
                    w.Write(entry.Row);
                }
            }
            w.Write(p.Weights is not null);
            if (p.Weights is { } weights)
            {
                w.Write(weights.Parameters.Length);
                foreach (var stats in weights.Parameters)
                {
                    w.Write(stats.Name);
                    Write(w, stats.Shape);
                    foreach (var v in new[] { stats.Norm, stats.Mean, stats.Std, stats.NearZero, stats.Min, stats.Max }) w.Write(v);
                    Write(w, stats.Histogram);
                }
                w.Write(weights.FirstConv ?? "");
                Write(w, weights.FirstConvShape);
                Write(w, weights.FirstConvFilters);
            }
            w.Write(p.Activations is not null);
            if (p.Activations is { } activations)
            {
                w.Write(activations.Layers.Length);
                foreach (var l in activations.Layers)
                {
                    w.Write(l.Layer);
                    w.Write(l.Channels);
                    Write(w, l.ClassCounts);
                    Write(w, l.ClassSums);
                    Write(w, l.Fired);
                    w.Write(l.NonPositive);
                    w.Write(l.Elements);
                }
            }
            w.Write(p.Pruning is not null);
            if (p.Pruning is { } pruning)
            {
                w.Write(pruning.Labelled);
                w.Write(pruning.Samples);
                w.Write(pruning.BaselineCorrect);
                w.Write(pruning.BaselineProbability);
                Write(w, pruning.Correct);
                Write(w, pruning.Probability);
            }
            w.Write(p.ChannelWeightSums is not null);
            if (p.ChannelWeightSums is { } channelWeights) Write(w, channelWeights);
            w.Write(p.Embedding is not null);
            if (p.Embedding is { } embedding)
            {
                w.Write(embedding.Layer);
                w.Write(embedding.Count);
                Write(w, embedding.Sum);
                Write(w, embedding.Cross);
                Write(w, embedding.SubsetIndex ?? []);
                Write(w, embedding.SubsetLabels ?? []);
                Write(w, embedding.SubsetFeatures ?? []);
            }
        }
        return stream.GetBuffer().AsMemory(0, (int)stream.Length);
    }

    /// <summary>Reads a partial from <paramref name="stream"/> with blocking reads: call it off the grain scheduler.</summary>
    /// <param name="location">Named in the error when the bytes are not a partial.</param>
    public static ShardPartial Decode(Stream stream, string location)
    {
        using var r = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        try
        {
            if (r.ReadInt32() != Magic) throw new ExplainException($"{location} is not a staged partial");
            var (shard, count, silo, seconds, attempt, staged) = (r.ReadInt32(), r.ReadInt64(), r.ReadString(), r.ReadDouble(), r.ReadInt32(), r.ReadBoolean());
            var predicted = Read<long>(r);
            var inputShape = Read<int>(r);
            var inputSum = Read<double>(r);
            var inputCount = Read<long>(r);
            var methods = new MethodPartial[r.ReadInt32()];
            for (var i = 0; i < methods.Length; i++)
                methods[i] = new MethodPartial(r.ReadString(), Read<int>(r), Read<long>(r), Read<double>(r), Read<double>(r));
            ErrorPartial? errors = null;
            if (r.ReadBoolean())
            {
                var (confusion, sumNll, binCount, binConfidence, binCorrect) = (Read<long>(r), r.ReadDouble(), Read<long>(r), Read<double>(r), Read<long>(r));
                var top = new LossEntry[r.ReadInt32()];
                for (var i = 0; i < top.Length; i++)
                    top[i] = new LossEntry(r.ReadInt64(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32());
                errors = new ErrorPartial(confusion, sumNll, binCount, binConfidence, binCorrect, top);
            }
            // Partials staged before faithfulness existed end here.
            FaithfulnessPartial? faithfulness = null;
            if (r.BaseStream.ReadByte() == 1)
            {
                var (steps, classCounts) = (r.ReadInt32(), Read<long>(r));
                var curves = new CurveSums[r.ReadInt32()];
                for (var i = 0; i < curves.Length; i++) curves[i] = new CurveSums(r.ReadString(), Read<double>(r), Read<double>(r), Read<double>(r));
                faithfulness = new FaithfulnessPartial(steps, classCounts, curves);
            }
            SanityPartial? sanity = null;
            if (r.BaseStream.ReadByte() == 1)
            {
                var layers = new string[r.ReadInt32()];
                for (var i = 0; i < layers.Length; i++) layers[i] = r.ReadString();
                var samples = r.ReadInt64();
                var sums = new SanitySums[r.ReadInt32()];
                for (var i = 0; i < sums.Length; i++) sums[i] = new SanitySums(r.ReadString(), Read<double>(r), Read<double>(r));
                var example = r.ReadBoolean() ? new SanityExample(r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), Read<float>(r)) : null;
                sanity = new SanityPartial(layers, samples, sums, example);
            }
            ParamGradPartial? paramGrads = null;
            if (r.BaseStream.ReadByte() == 1)
            {
                var layers = new ParamGradLayer[r.ReadInt32()];
                for (var i = 0; i < layers.Length; i++) layers[i] = new ParamGradLayer(r.ReadString(), r.ReadInt64(), r.ReadBoolean(), r.ReadString());
                var (counts, sums, histograms) = (Read<long>(r), Read<double>(r), Read<long>(r));
                var largest = new NormEntry[r.ReadInt32()];
                for (var i = 0; i < largest.Length; i++)
                    largest[i] = new NormEntry(r.ReadInt64(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
                paramGrads = new ParamGradPartial(layers, counts, sums, histograms, largest);
            }
            WeightsPartial? weights = null;
            if (r.BaseStream.ReadByte() == 1)
            {
                var parameters = new ParameterStatistics[r.ReadInt32()];
                for (var i = 0; i < parameters.Length; i++)
                    parameters[i] = new ParameterStatistics(r.ReadString(), Read<long>(r), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(),
                        r.ReadDouble(), r.ReadDouble(), Read<long>(r));
                var firstConv = r.ReadString();
                weights = new WeightsPartial(parameters, firstConv.Length == 0 ? null : firstConv, Read<int>(r), Read<float>(r));
            }
            ActivationsPartial? activations = null;
            if (r.BaseStream.ReadByte() == 1)
            {
                var layers = new LayerActivationSums[r.ReadInt32()];
                for (var i = 0; i < layers.Length; i++)
                    layers[i] = new LayerActivationSums(r.ReadString(), r.ReadInt32(), Read<long>(r), Read<double>(r), Read<long>(r), r.ReadInt64(), r.ReadInt64());
                activations = new ActivationsPartial(layers);
            }
            var pruning = r.BaseStream.ReadByte() == 1
                ? new PruningImportancePartial(r.ReadBoolean(), r.ReadInt64(), r.ReadInt64(), r.ReadDouble(), Read<long>(r), Read<double>(r)) : null;
            var channelWeights = r.BaseStream.ReadByte() == 1 ? Read<double>(r) : null;
            var embedded = r.BaseStream.ReadByte() == 1
                ? new EmbeddingPartial(r.ReadString(), r.ReadInt64(), Read<double>(r), Read<double>(r), Read<long>(r), Read<long>(r), Read<float>(r)) : null;
            return new ShardPartial(shard, count, silo, seconds, predicted, errors, methods, inputShape, inputSum, inputCount, attempt, staged, faithfulness, sanity, paramGrads,
                weights, activations, pruning, channelWeights, embedded);
        }
        catch (EndOfStreamException e)
        {
            throw new ExplainException($"{location} is truncated", e);
        }
    }

    private static void Write<T>(BinaryWriter w, T[] values) where T : unmanaged
    {
        w.Write(values.Length);
        w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static T[] Read<T>(BinaryReader r) where T : unmanaged
    {
        var length = r.ReadInt32();
        if (length < 0) throw new EndOfStreamException();
        var values = new T[length];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        r.BaseStream.ReadExactly(bytes); // a blob stream may return less than asked per read
        return values;
    }
}
