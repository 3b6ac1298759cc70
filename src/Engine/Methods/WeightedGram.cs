using System.Numerics;

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
