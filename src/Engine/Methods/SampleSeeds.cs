namespace ExplainCluster.Engine.Methods;

/// <summary>
/// A random method's seed for one sample, from the job's seed and the sample's dataset index (SplitMix64), so
/// a sample draws the same numbers whichever shard, batch or silo it lands in.
/// </summary>
public static class SampleSeeds
{
    public static ulong For(long seed, long index) => Mix((ulong)seed ^ Mix((ulong)index + 0x9E3779B97F4A7C15UL));

    /// <summary>The next uniform on [0, 1) of the SplitMix64 stream whose state is <paramref name="state"/> (53 bits, as Random.NextDouble).</summary>
    public static double Uniform(ref ulong state) => (Mix(state += Golden) >> 11) * (1.0 / (1UL << 53));

    /// <summary>The state of the stream <paramref name="state"/> after <paramref name="drawn"/> uniforms.</summary>
    public static ulong Advance(ulong state, long drawn) => state + (ulong)drawn * Golden;

    /// <summary>SplitMix64's increment γ: the stream's value n from state S is Mix(S + (n + 1)·γ).</summary>
    public const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>SplitMix64's two multipliers (<see cref="Mix"/>), for those that compute its values in vectors.</summary>
    public const ulong MixFirst = 0xBF58476D1CE4E5B9UL, MixSecond = 0x94D049BB133111EBUL;

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * MixFirst;
        z = (z ^ (z >> 27)) * MixSecond;
        return z ^ (z >> 31);
    }
}
