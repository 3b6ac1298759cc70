using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Engine.Views;

/// <summary>What a maximisation raises: a class logit, or a channel's mean activation at a split layer.</summary>
public abstract record Objective
{
    /// <summary>The split layer, or null for a class logit (the whole model).</summary>
    public abstract string? Layer { get; }

    /// <summary>The seed of this objective's start and jitter: depends on the job's seed and the objective only.</summary>
    public abstract ulong StartSeed(long seed);
}

/// <summary>The logit of class <paramref name="Class"/>; seeded as sample <paramref name="Class"/> is (<see cref="SampleSeeds"/>).</summary>
public sealed record ClassObjective(int Class) : Objective
{
    public override string? Layer => null;

    public override ulong StartSeed(long seed) => SampleSeeds.For(seed, Class);
}

/// <summary>The mean activation of channel <paramref name="Channel"/> at <paramref name="Layer"/> (<see cref="Models.ExplainModel.Split"/>).</summary>
public sealed record ChannelObjective(string Layer, int Channel) : Objective
{
    public override string? Layer { get; } = Layer;

    /// <summary>Another stream than the classes': the layer's name (FNV-1a) and then the channel.</summary>
    public override ulong StartSeed(long seed) => SampleSeeds.For((long)SampleSeeds.For(seed, (long)Fnv(Layer!)), Channel);

    private static ulong Fnv(string text)
    {
        var h = 0xCBF29CE484222325UL;
        foreach (var ch in text) h = (h ^ ch) * 0x100000001B3UL;
        return h;
    }
}
