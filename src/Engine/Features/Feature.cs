using System.Runtime.InteropServices;
using System.Text;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Features;

/// <summary>
/// A feature whose partial is one typed record, written and read as raw little-endian values: doubles are copied bit
/// for bit, so a resumed job refolds exactly the sums the shard computed.
/// </summary>
public abstract class Feature<TPartial, TSums> : IFeature where TPartial : class where TSums : FeatureSums<TPartial>
{
    public abstract string Name { get; }

    public abstract string Section { get; }

    /// <summary>The shard's partial; null when the feature has nothing from this shard.</summary>
    public abstract TPartial? Compute(ShardOutcome shard);

    public abstract void Write(BinaryWriter w, TPartial partial);

    public abstract TPartial Read(BinaryReader r);

    public abstract TSums NewSums(int classes);

    IFeatureSums IFeature.NewSums(int classes) => NewSums(classes);

    public byte[]? Partial(ShardOutcome shard) => Compute(shard) is { } partial ? Encode(partial) : null;

    public byte[] Encode(TPartial partial)
    {
        // Written through a pooled buffer and copied out once: a MemoryStream's doubling left two to three times a partial
        // of a few MB (a dependence sample, the error tree's rows) as garbage on the large object heap, every shard.
        using var stream = new PooledStream(4096);
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) Write(w, partial);
        return stream.ToArray();
    }

    /// <summary>The partial as it travels in a <see cref="ShardPartial"/>.</summary>
    public FeaturePartial Pack(TPartial partial) => new(Name, Encode(partial));

    /// <param name="location">Named in the error when the bytes are not this feature's.</param>
    public TPartial Decode(byte[] data, string location)
    {
        using var r = new BinaryReader(new MemoryStream(data, writable: false), Encoding.UTF8);
        try
        {
            var partial = Read(r);
            if (r.BaseStream.Position != data.Length) throw new ExplainException($"{location}: {Name}'s partial has {data.Length - r.BaseStream.Position} bytes left over");
            return partial;
        }
        catch (EndOfStreamException e)
        {
            throw new ExplainException($"{location}: {Name}'s partial is truncated", e);
        }
    }

    /// <summary>This feature's partial in <paramref name="partial"/>, decoded; null when the shard has none.</summary>
    public TPartial? In(ShardPartial partial) =>
        partial.Features.FirstOrDefault(f => f.Feature == Name) is { } found ? Decode(found.Data, $"shard {partial.ShardIndex}") : null;

    protected static void WriteArray<T>(BinaryWriter w, T[] values) where T : unmanaged => PartialIO.Write(w, values);

    protected static T[] ReadArray<T>(BinaryReader r) where T : unmanaged => PartialIO.Read<T>(r);
}

/// <summary>A typed feature's running sums: <see cref="Fold(TPartial)"/> in shard order, then <see cref="Summarise"/>.</summary>
public abstract class FeatureSums<TPartial>(Func<byte[], string, TPartial> decode) : IFeatureSums where TPartial : class
{
    public void Fold(byte[] partial, string location) => Fold(decode(partial, location));

    public abstract void Fold(TPartial partial);

    public abstract object? Summarise(SummaryDraft draft);
}

/// <summary>Arrays of unmanaged values as a length and their raw bytes.</summary>
public static class PartialIO
{
    public static void Write<T>(BinaryWriter w, T[] values) where T : unmanaged
    {
        w.Write(values.Length);
        w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    public static T[] Read<T>(BinaryReader r) where T : unmanaged
    {
        var length = r.ReadInt32();
        if (length < 0) throw new EndOfStreamException();
        var values = new T[length];
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan())); // a blob stream may return less than asked per read
        return values;
    }
}

/// <summary>Element-wise running totals.</summary>
public static class Totals
{
    public static void Add(long[] total, long[] part)
    {
        for (var i = 0; i < part.Length; i++) total[i] += part[i];
    }

    public static void Add(double[] total, double[] part)
    {
        for (var i = 0; i < part.Length; i++) total[i] += part[i];
    }
}
