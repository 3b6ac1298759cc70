using System.Text;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// A shard's staged partial statistics (partial.bin): who and how many, then each feature's partial as the feature
/// encoded it (raw little-endian arrays: a wide model's partial is tens of MB of doubles, which as JSON took 2.5× the
/// bytes). Doubles are copied bit for bit, so a resumed job refolds exactly the sums the shard computed.
/// </summary>
public static class PartialCodec
{
    private const int Magic = 0x32504345; // "ECP2": features as named blocks

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
            PartialIO.Write(w, p.PredictedCounts);
            w.Write(p.Features.Length);
            foreach (var feature in p.Features)
            {
                w.Write(feature.Feature);
                PartialIO.Write(w, feature.Data);
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
            var predicted = PartialIO.Read<long>(r);
            var features = new FeaturePartial[r.ReadInt32()];
            for (var i = 0; i < features.Length; i++) features[i] = new FeaturePartial(r.ReadString(), PartialIO.Read<byte>(r));
            return new ShardPartial(shard, count, silo, seconds, predicted, features, attempt, staged);
        }
        catch (EndOfStreamException e)
        {
            throw new ExplainException($"{location} is truncated", e);
        }
    }
}
