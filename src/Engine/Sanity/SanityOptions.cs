using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Sanity;

/// <summary>The job file's <c>sanity</c> object, read strictly: samples [256], seed [0].</summary>
public static class SanityOptions
{
    public static SanitySpec Read(string json)
    {
        var o = OptionsReader.Parse(json, "sanity.");
        var samples = o.Integer("samples", SanitySpec.DefaultSamples, 1, 100_000);
        var seed = o.Integer("seed", 0, 0, int.MaxValue);
        o.RejectUnread();
        return new SanitySpec(samples, seed);
    }
}
