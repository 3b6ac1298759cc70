using System.Numerics;
using System.Runtime.CompilerServices;
using ExplainCluster.Engine.Data.Tables;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// One sample's coalition rows over a table's background, written a chunk at a time on the host: row c·B + b is background
/// row b with the features of coalition c taken from the instance x (SHAP's independent masker). Each element is exactly
/// x's or b's, picked by a lane select, with no arithmetic. A coalition's rows are one flat run of the background, and which
/// elements come from x repeats every lcm(W, lanes) elements, so a run is written a vector at a time against that pattern
/// read at the run's phase: one pass over the chunk, which stays in cache for the forward that follows.
/// </summary>
public sealed class CoalitionRows
{
    private static readonly float Selected = BitConverter.Int32BitsToSingle(-1); // every bit set: the select takes x's lane

    /// <summary>Each element's feature, for a row of <paramref name="features"/>' width.</summary>
    internal static int[] Owners(FeatureGroups features)
    {
        var owner = new int[features.Width];
        for (var f = 0; f < features.Names.Length; f++) owner.AsSpan(features.Offsets[f], features.Widths[f]).Fill(f);
        return owner;
    }

    /// <summary>A coalition's select pattern over one row: every bit set on the elements of the features <paramref name="mask"/> holds.</summary>
    internal static void Pattern(ReadOnlySpan<byte> mask, int[] owner, Span<float> into)
    {
        for (var e = 0; e < owner.Length; e++) into[e] = mask[owner[e]] != 0 ? Selected : 0;
    }

    private readonly ReadOnlyMemory<byte> _masks; // [m, K] 0/1
    private readonly float[] _background;          // [B, W]
    private readonly int[] _owner;                 // each element's feature
    private readonly int _width, _players, _period;
    private readonly float[] _x;                   // x's elements repeated over period + lanes
    private readonly float[] _select;              // the loaded coalition's pattern, over period + lanes
    private int _coalition = -1;

    /// <param name="masks">The sample's coalitions [m, K], 0/1, K the table's features.</param>
    /// <param name="x">The instance's vector [W].</param>
    /// <param name="background">The background rows [B, W], row-major.</param>
    public CoalitionRows(FeatureGroups features, ReadOnlyMemory<byte> masks, ReadOnlyMemory<float> x, float[] background)
    {
        (_masks, _background, _width) = (masks, background, features.Width);
        _players = features.Names.Length;
        _owner = Owners(features);
        var lanes = Vector<float>.Count;
        _period = _width / Gcd(_width, lanes) * lanes;
        (_x, _select) = (new float[_period + lanes], new float[_period + lanes]);
        for (var j = 0; j < _x.Length; j++) _x[j] = x.Span[j % _width];
    }

    /// <summary>Rows [start, start + size) into <paramref name="into"/> [size, W], row-major.</summary>
    public void Write(long start, int size, Span<float> into)
    {
        var rows = _background.Length / _width;
        var lanes = Vector<float>.Count;
        for (var done = 0; done < size;)
        {
            var (c, b) = ((int)((start + done) / rows), (int)((start + done) % rows));
            var count = Math.Min(size - done, rows - b); // the rest of this coalition's rows
            Load(c);
            ref var source = ref _background[b * _width];
            ref var target = ref into[done * _width];
            ref var select = ref _select[0];
            ref var x = ref _x[0];
            var phase = b * _width % _period;
            var (e, length) = (0, count * _width);
            for (; e + lanes <= length; e += lanes)
            {
                var (at, p) = ((nuint)e, (nuint)phase);
                Vector.ConditionalSelect(Vector.LoadUnsafe(ref select, p), Vector.LoadUnsafe(ref x, p), Vector.LoadUnsafe(ref source, at)).StoreUnsafe(ref target, at);
                phase += lanes;
                if (phase >= _period) phase -= _period;
            }
            for (; e < length; e++, phase = phase + 1 == _period ? 0 : phase + 1)
                Unsafe.Add(ref target, e) = BitConverter.SingleToInt32Bits(_select[phase]) != 0 ? _x[phase] : Unsafe.Add(ref source, e);
            done += count;
        }
    }

    /// <summary>Coalition c's select pattern: every bit set on the elements of the features it holds.</summary>
    private void Load(int c)
    {
        if (c == _coalition) return;
        var pattern = _select.AsSpan(0, _width);
        Pattern(_masks.Span.Slice(c * _players, _players), _owner, pattern);
        for (var j = _width; j < _select.Length; j += _width) pattern[..Math.Min(_width, _select.Length - j)].CopyTo(_select.AsSpan(j));
        _coalition = c;
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
