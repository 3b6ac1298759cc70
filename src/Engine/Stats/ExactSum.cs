namespace ExplainCluster.Engine.Stats;

/// <summary>
/// The exact sum of doubles, kept as non-overlapping partials in increasing magnitude (Shewchuk 1997, as Python's
/// <c>math.fsum</c>), and rounded once, correctly, when read. Adding is exact, so a sum is the same bit for bit in whatever
/// groups its terms were added: a shard's sum folded with others equals one sum over every sample, however a job was sharded.
/// Non-finite terms are the caller's to leave out.
/// </summary>
public sealed class ExactSum
{
    private readonly List<double> _partials = [];

    public ExactSum()
    {
    }

    private ExactSum(IEnumerable<double> partials) => _partials.AddRange(partials);

    /// <summary>The partials, as a partial of a feature carries them (<see cref="Of"/> reads them back).</summary>
    public double[] Partials => [.. _partials];

    public static ExactSum Of(double[] partials) => new(partials);

    public ExactSum Copy() => new(_partials);

    public void Add(double x)
    {
        var kept = 0;
        for (var k = 0; k < _partials.Count; k++)
        {
            var y = _partials[k];
            if (Math.Abs(x) < Math.Abs(y)) (x, y) = (y, x);
            var hi = x + y;
            var lo = y - (hi - x);
            if (lo != 0) _partials[kept++] = lo;
            x = hi;
        }
        _partials.RemoveRange(kept, _partials.Count - kept);
        _partials.Add(x);
    }

    /// <summary>Adds every term of <paramref name="other"/> (exactly); <paramref name="sign"/> −1 subtracts them.</summary>
    public void Add(ExactSum other, int sign = 1)
    {
        foreach (var p in other._partials.ToArray()) Add(sign * p);
    }

    /// <summary>The sum correctly rounded to a double (round half to even), as <c>math.fsum</c> returns it.</summary>
    public double Value
    {
        get
        {
            var n = _partials.Count;
            if (n == 0) return 0;
            double hi = _partials[--n], lo = 0;
            while (n > 0)
            {
                var x = hi;
                var y = _partials[--n];
                hi = x + y;
                lo = y - (hi - x);
                if (lo != 0) break;
            }
            // The partials below decide a tie: round away from it when the rest has lo's sign.
            if (n > 0 && ((lo < 0 && _partials[n - 1] < 0) || (lo > 0 && _partials[n - 1] > 0)))
            {
                var y = lo * 2;
                var x = hi + y;
                if (y == x - hi) hi = x;
            }
            return hi;
        }
    }
}

/// <summary>n, Σx and Σx² of a value over samples, summed exactly (<see cref="ExactSum"/>), so they merge in any grouping to the same bits.</summary>
public sealed class ExactMoments
{
    public long Count { get; private set; }

    public ExactSum Sum { get; }

    public ExactSum Squares { get; }

    public ExactMoments() : this(0, new ExactSum(), new ExactSum())
    {
    }

    private ExactMoments(long count, ExactSum sum, ExactSum squares) => (Count, Sum, Squares) = (count, sum, squares);

    public static ExactMoments Of(long count, double[] sum, double[] squares) => new(count, ExactSum.Of(sum), ExactSum.Of(squares));

    public ExactMoments Copy() => new(Count, Sum.Copy(), Squares.Copy());

    public void Add(double x)
    {
        Count++;
        Sum.Add(x);
        Squares.Add(x * x);
    }

    /// <summary>Adds <paramref name="other"/>'s samples; <paramref name="sign"/> −1 takes them away (what the rest of a whole has).</summary>
    public void Add(ExactMoments other, int sign = 1)
    {
        Count += sign * other.Count;
        Sum.Add(other.Sum, sign);
        Squares.Add(other.Squares, sign);
    }

    /// <summary>The mean with its normal interval (<see cref="Intervals.Mean"/>) from the sums rounded once.</summary>
    public Estimate Mean(double confidence) => Intervals.Mean(Count, Sum.Value, Squares.Value, confidence);
}
