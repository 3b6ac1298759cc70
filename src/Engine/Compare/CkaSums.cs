namespace ExplainCluster.Engine.Compare;

/// <summary>
/// Linear CKA (Kornblith et al., 2019) between two models' features X [n, p] and Y [n, q] on the same samples, as sums
/// that merge: n, Σx, Σy, Σxxᵀ, Σyyᵀ, Σxyᵀ. The centred cross-covariances follow exactly (Cxy = Σxyᵀ − Σx Σyᵀ / n), and
/// CKA = ‖Cxy‖²_F / (‖Cxx‖_F ‖Cyy‖_F), which equals tr(K L) / √(tr(K K) tr(L L)) for the centred Gram matrices K = X̃X̃ᵀ,
/// L = ỸỸᵀ. Blocks' sums fold in block order, so the result is the same bit for bit however the blocks were spread.
/// </summary>
public sealed class CkaSums
{
    /// <param name="sxx">Σxxᵀ, [p, p] row-major; <paramref name="syy"/> [q, q]; <paramref name="sxy"/> Σxyᵀ, [p, q].</param>
    public CkaSums(long n, double[] sx, double[] sy, double[] sxx, double[] syy, double[] sxy)
    {
        var (p, q) = (sx.Length, sy.Length);
        if (sxx.Length != p * p || syy.Length != q * q || sxy.Length != p * q)
            throw new ArgumentException($"sums of {p} and {q} features with [{sxx.Length}], [{syy.Length}], [{sxy.Length}] cross terms");
        (N, Sx, Sy, Sxx, Syy, Sxy) = (n, sx, sy, sxx, syy, sxy);
    }

    public long N { get; private set; }

    public double[] Sx { get; }

    public double[] Sy { get; }

    public double[] Sxx { get; }

    public double[] Syy { get; }

    public double[] Sxy { get; }

    /// <summary>The sums of row-major features x [n, p] and y [n, q], by plain loops (the reference for the tensor path).</summary>
    public static CkaSums Of(ReadOnlySpan<double> x, ReadOnlySpan<double> y, int n)
    {
        var (p, q) = (x.Length / n, y.Length / n);
        var (sx, sy, sxx, syy, sxy) = (new double[p], new double[q], new double[p * p], new double[q * q], new double[p * q]);
        for (var r = 0; r < n; r++)
        {
            var xr = x.Slice(r * p, p);
            var yr = y.Slice(r * q, q);
            for (var i = 0; i < p; i++)
            {
                sx[i] += xr[i];
                for (var j = 0; j < p; j++) sxx[i * p + j] += xr[i] * xr[j];
                for (var j = 0; j < q; j++) sxy[i * q + j] += xr[i] * yr[j];
            }
            for (var i = 0; i < q; i++)
            {
                sy[i] += yr[i];
                for (var j = 0; j < q; j++) syy[i * q + j] += yr[i] * yr[j];
            }
        }
        return new CkaSums(n, sx, sy, sxx, syy, sxy);
    }

    /// <summary><paramref name="total"/> (null before the first block) with <paramref name="block"/> added, element by element.</summary>
    public static CkaSums Fold(CkaSums? total, CkaSums block)
    {
        if (total is null) return new CkaSums(block.N, [.. block.Sx], [.. block.Sy], [.. block.Sxx], [.. block.Syy], [.. block.Sxy]);
        if (total.Sx.Length != block.Sx.Length || total.Sy.Length != block.Sy.Length)
            throw new ArgumentException($"sums of {block.Sx.Length} and {block.Sy.Length} features folded into {total.Sx.Length} and {total.Sy.Length}");
        total.N += block.N;
        foreach (var (sum, part) in new[] { (total.Sx, block.Sx), (total.Sy, block.Sy), (total.Sxx, block.Sxx), (total.Syy, block.Syy), (total.Sxy, block.Sxy) })
            Features.Totals.Add(sum, part);
        return total;
    }

    /// <summary>Linear CKA, 0 to 1 (1: the same representation up to rotation and isotropic scaling); NaN when a side is constant.</summary>
    public double Cka()
    {
        var cross = Centred(Sxy, Sx, Sy);
        var (xx, yy) = (Centred(Sxx, Sx, Sx), Centred(Syy, Sy, Sy));
        var denominator = Math.Sqrt(SquaredNorm(xx)) * Math.Sqrt(SquaredNorm(yy));
        return denominator == 0 ? double.NaN : SquaredNorm(cross) / denominator;
    }

    /// <summary>Σabᵀ − Σa Σbᵀ / n: n times the cross-covariance.</summary>
    private double[] Centred(double[] sab, double[] sa, double[] sb)
    {
        var centred = new double[sab.Length];
        for (var i = 0; i < sa.Length; i++)
            for (var j = 0; j < sb.Length; j++) centred[i * sb.Length + j] = sab[i * sb.Length + j] - sa[i] * sb[j] / N;
        return centred;
    }

    private static double SquaredNorm(double[] m)
    {
        double s = 0;
        foreach (var v in m) s += v * v;
        return s;
    }
}
