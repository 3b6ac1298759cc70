using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using ExplainCluster.Engine.Data.Tables;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Which of one sample's coalition rows are the same vector, so that the model sees each once, and those rows written a
/// chunk at a time. Row c·B + b is background row b with coalition c's features taken from the instance x
/// (<see cref="CoalitionRows"/>). Where x and b agree on a feature, either source gives the same elements, so row (c, b)
/// depends on c only through the features on which they differ (D_b): two coalitions that agree on D_b give background row
/// b the same row. On a table with categorical features and common values most of kernel-shap's rows repeat so
/// (credit_data: an applicant and a background row agree on 4 of 13 features on average, and 38 % of the rows of 2,048
/// coalitions × 100 background rows are distinct); on continuous features almost none do, and <see cref="Find"/> says so.
/// Agreement is bit for bit (a 0 and a −0 differ), so a row and the row forwarded in its place are the same floats.
/// One instance serves one thread: it keeps its buffers from one sample to the next.
/// </summary>
public sealed class DistinctRows(FeatureGroups features, float[] background)
{
    private readonly int _width = features.Width;
    private readonly int[] _owner = CoalitionRows.Owners(features);
    private readonly int _rows = background.Length / features.Width;
    private int[] _coalition = [], _backgroundRow = []; // the rows to forward, background row by background row
    private int[] _of = [];                              // per row c·B + b: the position of its vector among them
    private int[] _seen = [], _first = [];               // per key of one background row: stamp, then its position
    private int _stamp;
    private float[] _patterns = [];                      // [m, W]: every bit set where coalition c takes x's element
    private ulong[] _bits = [];                          // per coalition: its features as bits
    private int[] _canonical = [];                       // per coalition: the first with the same bits
    private readonly Dictionary<ulong, int> _firstOf = [];
    private readonly ulong[] _differ = new ulong[background.Length / features.Width]; // per background row: the features on which x differs
    private float[] _x = [];

    /// <summary>How many rows to forward after a <see cref="Find"/> that returned true.</summary>
    public int Count { get; private set; }

    /// <summary>For each of the m·B rows (c·B + b), the position of its vector among the <see cref="Count"/> forwarded.</summary>
    public int[] Of => _of;

    /// <summary>
    /// Finds the distinct rows of the instance <paramref name="x"/> [W] under its m coalitions <paramref name="masks"/>
    /// [m, K]. False when every row is distinct (or there are more than 64 features): forward them all as they are.
    /// </summary>
    public bool Find(ReadOnlySpan<byte> masks, int m, ReadOnlySpan<float> x)
    {
        var k = features.Names.Length;
        var players = masks.Length / m;
        if (k > 64) return false;
        var all = k == 64 ? ulong.MaxValue : (1UL << k) - 1;

        // Each coalition's features as bits, and the first coalition with the same bits.
        if (_bits.Length != m) (_bits, _canonical) = (new ulong[m], new int[m]); // a batch's samples share m
        var (bits, canonical, first) = (_bits, _canonical, _firstOf);
        first.Clear();
        var repeats = false;
        for (var c = 0; c < m; c++)
        {
            var mask = masks.Slice(c * players, k);
            ulong word = 0;
            for (var f = 0; f < k; f++) if (mask[f] != 0) word |= 1UL << f;
            bits[c] = word;
            canonical[c] = first.TryAdd(word, c) ? c : first[word];
            repeats |= canonical[c] != c;
        }

        // The features on which x and each background row differ.
        var differ = _differ;
        Array.Clear(differ);
        var partial = false;
        for (var b = 0; b < _rows; b++)
        {
            var row = background.AsSpan(b * _width, _width);
            for (var f = 0; f < k; f++)
                for (var e = features.Offsets[f]; e < features.Offsets[f] + features.Widths[f]; e++)
                    if (BitConverter.SingleToInt32Bits(row[e]) != BitConverter.SingleToInt32Bits(x[e])) { differ[b] |= 1UL << f; break; }
            partial |= differ[b] != all;
        }
        if (!repeats && !partial) return false;

        var total = m * _rows;
        if (_of.Length != total) (_of, _coalition, _backgroundRow) = (new int[total], new int[total], new int[total]); // a batch's samples share m and B
        if (_seen.Length < Math.Max(1 << 16, m)) (_seen, _first) = (new int[Math.Max(1 << 16, m)], new int[Math.Max(1 << 16, m)]);
        var count = 0;
        for (var b = 0; b < _rows; b++)
        {
            // A key per coalition that two coalitions share exactly when they give row b the same vector.
            var d = differ[b];
            var packed = BitOperations.PopCount(d) <= 16;
            var wide = d != all && !packed ? new Dictionary<ulong, int>() : null;
            var stamp = ++_stamp;
            for (var c = 0; c < m; c++)
            {
                int at;
                if (wide is not null)
                {
                    if (!wide.TryGetValue(bits[c] & d, out at)) wide[bits[c] & d] = at = Add(ref count, c, b);
                }
                else
                {
                    var key = d == all ? canonical[c] : (int)Extract(bits[c], d);
                    if (_seen[key] != stamp) (_seen[key], _first[key]) = (stamp, Add(ref count, c, b));
                    at = _first[key];
                }
                _of[c * _rows + b] = at;
            }
        }
        if (count == total) return false;
        Count = count;

        if (_patterns.Length < m * _width) _patterns = new float[m * _width];
        for (var c = 0; c < m; c++) CoalitionRows.Pattern(masks.Slice(c * players, k), _owner, _patterns.AsSpan(c * _width, _width));
        _x = x.ToArray();
        return true;
    }

    private int Add(ref int count, int c, int b)
    {
        (_coalition[count], _backgroundRow[count]) = (c, b);
        return count++;
    }

    /// <summary>The forwarded rows [start, start + size) into <paramref name="into"/> [size, W], row-major: each element exactly x's or b's.</summary>
    public void Write(long start, int size, Span<float> into)
    {
        var lanes = Vector<float>.Count;
        ref var x = ref _x[0];
        for (var i = 0; i < size; i++)
        {
            var r = (int)start + i;
            ref var select = ref _patterns[_coalition[r] * _width];
            ref var source = ref background[_backgroundRow[r] * _width];
            ref var target = ref into[i * _width];
            if (_width < lanes)
            {
                for (var e = 0; e < _width; e++)
                    Unsafe.Add(ref target, e) = BitConverter.SingleToInt32Bits(Unsafe.Add(ref select, e)) != 0 ? Unsafe.Add(ref x, e) : Unsafe.Add(ref source, e);
                continue;
            }
            // Whole vectors, the last one ending at the row's end (it may overlap the one before: the same values again).
            for (var e = 0; ; e += lanes)
            {
                var at = (nuint)Math.Min(e, _width - lanes);
                Vector.ConditionalSelect(Vector.LoadUnsafe(ref select, at), Vector.LoadUnsafe(ref x, at), Vector.LoadUnsafe(ref source, at)).StoreUnsafe(ref target, at);
                if ((int)at == _width - lanes) break;
            }
        }
    }

    /// <summary>The bits of <paramref name="value"/> under <paramref name="mask"/>, packed low (BMI2's pext).</summary>
    internal static ulong Extract(ulong value, ulong mask) =>
        Bmi2.X64.IsSupported ? Bmi2.X64.ParallelBitExtract(value, mask) : ExtractBitByBit(value, mask);

    internal static ulong ExtractBitByBit(ulong value, ulong mask)
    {
        ulong packed = 0;
        for (var (bit, m) = (0, mask); m != 0; m &= m - 1, bit++)
            if ((value & m & (~m + 1)) != 0) packed |= 1UL << bit;
        return packed;
    }
}
