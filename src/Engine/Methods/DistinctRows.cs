using System.Numerics;
using System.Runtime.Intrinsics.X86;
using ExplainCluster.Engine.Data.Tables;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Which of one sample's coalition rows are the same vector, so that the model sees each once. Row c·B + b is background
/// row b with coalition c's features taken from the instance x (<see cref="CoalitionRows"/>). Where x and b agree on a
/// feature, either source gives the same elements, so row (c, b) depends on c only through the features on which they
/// differ (D_b): two coalitions that agree on D_b give background row b the same row. On a table with categorical features
/// and common values most of kernel-shap's rows repeat so (credit_data: an applicant and a background row agree on 4 of
/// 13 features on average); on continuous features almost none do, and the rows go to the model as they are.
/// Agreement is bit for bit (a 0 and a −0 differ), so a row and its representative are the same floats.
/// </summary>
public sealed class DistinctRows
{
    private readonly FeatureGroups _features;
    private readonly float[] _background; // [B, W]
    private int[] _representative = [];   // per row: the code of the first row that is the same vector
    private int[] _position = [];         // per row: its representative's position among the rows to forward
    private int[] _seen = [];             // per projected key of one background row: stamp, then the coalition that has it
    private int[] _firstWith = [];
    private int _stamp;

    public DistinctRows(FeatureGroups features, float[] background) => (_features, _background) = (features, background);

    /// <summary>
    /// For the m coalitions <paramref name="masks"/> [m, K] of the instance <paramref name="x"/>: the rows to forward, as
    /// codes c·B + b in ascending order, and for each of the m·B rows the position of its vector among them. Null when
    /// every row is distinct (or there are more than 64 features): forward them all. The arrays are reused by the next call.
    /// </summary>
    public (int[] Rows, int[] Of)? Find(ReadOnlySpan<byte> masks, int m, ReadOnlySpan<float> x)
    {
        var (width, k) = (_features.Width, _features.Names.Length);
        var rows = _background.Length / width;
        var players = masks.Length / m;
        if (k > 64) return null;
        var all = k == 64 ? ulong.MaxValue : (1UL << k) - 1;

        // Each coalition's features as bits, and the first coalition with the same bits.
        var bits = new ulong[m];
        var canonical = new int[m];
        var first = new Dictionary<ulong, int>(m);
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
        var differ = new ulong[rows];
        var partial = false;
        for (var b = 0; b < rows; b++)
        {
            var row = _background.AsSpan(b * width, width);
            for (var f = 0; f < k; f++)
                for (var e = _features.Offsets[f]; e < _features.Offsets[f] + _features.Widths[f]; e++)
                    if (BitConverter.SingleToInt32Bits(row[e]) != BitConverter.SingleToInt32Bits(x[e])) { differ[b] |= 1UL << f; break; }
            partial |= differ[b] != all;
        }
        if (!repeats && !partial) return null;

        var total = m * rows;
        if (_position.Length != total) (_representative, _position) = (new int[total], new int[total]); // the same size for a batch's samples
        for (var b = 0; b < rows; b++)
        {
            var d = differ[b];
            if (d == all)
            {
                for (var c = 0; c < m; c++) _representative[c * rows + b] = canonical[c] * rows + b;
                continue;
            }
            var count = BitOperations.PopCount(d);
            if (count <= 16)
            {
                // The bits of D_b packed low: a table of 2^|D_b| entries, stamped so it is never cleared.
                if (_seen.Length < 1 << count) (_seen, _firstWith) = (new int[1 << 16], new int[1 << 16]);
                var stamp = ++_stamp;
                for (var c = 0; c < m; c++)
                {
                    var key = (int)Extract(bits[c], d);
                    if (_seen[key] != stamp) (_seen[key], _firstWith[key]) = (stamp, c);
                    _representative[c * rows + b] = _firstWith[key] * rows + b;
                }
                continue;
            }
            var firstOn = new Dictionary<ulong, int>();
            for (var c = 0; c < m; c++)
            {
                var key = bits[c] & d;
                if (!firstOn.TryGetValue(key, out var r)) firstOn[key] = r = c;
                _representative[c * rows + b] = r * rows + b;
            }
        }

        // A representative comes first in code order (the lowest coalition with its key), so one pass numbers them.
        var distinct = 0;
        for (var r = 0; r < total; r++) _position[r] = _representative[r] == r ? distinct++ : _position[_representative[r]];
        if (distinct == total) return null;
        var forward = new int[distinct];
        for (var r = 0; r < total; r++) if (_representative[r] == r) forward[_position[r]] = r;
        return (forward, _position);
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
