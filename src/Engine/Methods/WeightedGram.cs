using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// One sample's sums for a weighted least-squares fit, accumulated on the host a row at a time: Σ w·a·aᵀ over its rows'
/// augmented vectors a = (x₁ … x_p, 1, y). Every moment a fit needs (Σw, Σw·x, Σw·x·xᵀ, Σw·y, Σw·x·y) is an entry, so
/// <see cref="WeightedLeastSquares.Solve(IReadOnlyList{WeightedGram}, double[], double, bool, TorchSharp.torch.Device)"/>
/// never sees the rows. A row touches only the products of its non-zero entries (upper triangle): lime's 0/1 surrogate
/// rows and kernel-shap's coalitions are mostly zeros.
/// </summary>
public sealed class WeightedGram
{
    private readonly int _size;      // p + 2
    private readonly double[] _sums; // [p + 2, p + 2], upper triangle
    private readonly int[] _at;      // the row's non-zero entries
    private readonly double[] _value;

    public WeightedGram(int features)
    {
        Features = features;
        _size = features + 2;
        _sums = new double[_size * _size];
        (_at, _value) = (new int[_size], new double[_size]);
    }

    /// <summary>p, the fit's features.</summary>
    public int Features { get; }

    /// <summary>Σ w·aᵢ·aⱼ, where a's entry p is 1 and p + 1 is y.</summary>
    public double this[int i, int j] => i <= j ? _sums[i * _size + j] : _sums[j * _size + i];

    /// <summary>Adds one row: features <paramref name="x"/> [p], weight <paramref name="w"/>, target <paramref name="y"/>.</summary>
    public void Add(ReadOnlySpan<float> x, double w, double y)
    {
        var count = 0;
        for (var j = 0; j < x.Length; j++)
        {
            // Written always, kept when non-zero: no branch on the row's values, which no predictor guesses.
            (_at[count], _value[count]) = (j, x[j]);
            count += x[j] != 0 ? 1 : 0;
        }
        Accumulate(count, w, y);
    }

    /// <summary>Adds one 0/1 row given as bits (feature j is bit j % 64 of word j / 64).</summary>
    public void Add(ReadOnlySpan<ulong> bits, double w, double y)
    {
        var count = 0;
        for (var word = 0; word < bits.Length; word++)
            for (var left = bits[word]; left != 0; left &= left - 1)
                (_at[count], _value[count++]) = (word * 64 + BitOperations.TrailingZeroCount(left), 1);
        Accumulate(count, w, y);
    }

    /// <summary>The most features whose 0/1 rows <see cref="OfBits"/> sums by a table of every row value (2^16 doubles, twice).</summary>
    public const int TableFeatures = 16;

    /// <summary>Whether <see cref="OfBits"/> sums <paramref name="rows"/> rows of <paramref name="features"/> 0/1 features (one word each) by a table of every row value.</summary>
    public static bool ByTable(int features, int rows) => features <= TableFeatures && 1L << features <= 4L * rows;

    /// <summary>
    /// The sums of many 0/1 rows (one word each, as <see cref="Add(ReadOnlySpan{ulong}, double, double)"/>) with no
    /// product per pair of set bits: each row adds w and w·y to its value's cell of two tables of 2^p cells, then every
    /// cell takes the sums of its supersets (p passes of adds, a vector at a time), and the entry of features j and l is
    /// the cell {j, l}. The sums are the same as row by row but for the order of the additions. Beyond
    /// <see cref="TableFeatures"/>, or with fewer than 2^p / 4 rows, the rows are added one at a time.
    /// </summary>
    /// <param name="bits">[rows, (p + 63) / 64] words.</param>
    public static WeightedGram OfBits(int features, ReadOnlySpan<ulong> bits, ReadOnlySpan<double> w, ReadOnlySpan<float> y)
    {
        var gram = new WeightedGram(features);
        var (rows, words) = (y.Length, (features + 63) / 64);
        if (!ByTable(features, rows))
        {
            for (var r = 0; r < rows; r++) gram.Add(bits.Slice(r * words, words), w[r], y[r]);
            return gram;
        }
        var cells = 1 << features;
        var (weight, weighted) = (ArrayPool<double>.Shared.Rent(cells), ArrayPool<double>.Shared.Rent(cells));
        try
        {
            var sw = weight.AsSpan(0, cells);
            var swy = weighted.AsSpan(0, cells);
            sw.Clear();
            swy.Clear();
            var squares = 0.0;
            for (var r = 0; r < rows; r++)
            {
                var (cell, scaled) = ((int)bits[r], w[r] * y[r]);
                sw[cell] += w[r];
                swy[cell] += scaled;
                squares += scaled * y[r];
            }
            Supersets(sw, features);
            Supersets(swy, features);
            var (p, sums, size) = (features, gram._sums, gram._size);
            for (var j = 0; j < p; j++)
            {
                (sums[j * size + j], sums[j * size + p], sums[j * size + p + 1]) = (sw[1 << j], sw[1 << j], swy[1 << j]);
                for (var l = j + 1; l < p; l++) sums[j * size + l] = sw[(1 << j) | (1 << l)];
            }
            (sums[p * size + p], sums[p * size + p + 1], sums[(p + 1) * size + p + 1]) = (sw[0], swy[0], squares);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(weight);
            ArrayPool<double>.Shared.Return(weighted);
        }
        return gram;
    }

    /// <summary>
    /// Each cell S of a table over p bits becomes Σ over the cells T ⊇ S (the superset sum), one bit at a time. With AVX2,
    /// bits 0 and 1 go together within each vector of four cells [a, b, c, d] → [(a + b) + (c + d), b + d, c + d, d] (the
    /// same additions, in the same order, as two passes), and every later bit a vector of four cells at a time.
    /// </summary>
    private static void Supersets(Span<double> table, int p)
    {
        if (Avx2.IsSupported && p >= 2 && table.Length == 1 << p)
        {
            ref var cells = ref MemoryMarshal.GetReference(table);
            for (nuint e = 0; e < (nuint)table.Length; e += 4)
            {
                var v = Vector256.LoadUnsafe(ref cells, e);
                v = Avx.Blend(v, v + Avx.Permute(v, 0b0101), 0b0101);            // lanes 0 and 2: a + b, c + d
                v = Avx.Blend(v, v + Avx2.Permute4x64(v, 0b_11_10_11_10), 0b0011); // lanes 0 and 1: (a + b) + (c + d), b + d
                v.StoreUnsafe(ref cells, e);
            }
            for (var j = 2; j < p; j++)
            {
                var half = (nuint)1 << j;
                for (nuint from = 0; from < (nuint)table.Length; from += 2 * half)
                    for (var e = from; e < from + half; e += 4)
                        (Vector256.LoadUnsafe(ref cells, e) + Vector256.LoadUnsafe(ref cells, e + half)).StoreUnsafe(ref cells, e);
            }
            return;
        }
        var lanes = Vector<double>.Count;
        for (var j = 0; j < p; j++)
        {
            var half = 1 << j;
            for (var from = 0; from < table.Length; from += 2 * half)
            {
                var e = from;
                for (; e + lanes <= from + half; e += lanes)
                    (new Vector<double>(table[e..]) + new Vector<double>(table[(e + half)..])).CopyTo(table[e..]);
                for (; e < from + half; e++) table[e] += table[e + half];
            }
        }
    }

    /// <summary>w·a·aᵀ over the row's <paramref name="count"/> non-zero features, the 1 and y.</summary>
    private void Accumulate(int count, double w, double y)
    {
        var (at, value, sums, size) = (_at, _value, _sums, _size);
        (at[count], value[count]) = (Features, 1);
        (at[count + 1], value[count + 1]) = (Features + 1, y);
        count += 2;
        for (var a = 0; a < count; a++)
        {
            var (row, scaled) = (at[a] * size, w * value[a]);
            for (var b = a; b < count; b++) sums[row + at[b]] += scaled * value[b];
        }
    }
}
