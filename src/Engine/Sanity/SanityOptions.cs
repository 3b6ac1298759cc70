using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Sanity;

/// <summary>The job file's <c>sanity</c> object, read strictly: samples [256], seed [0], methods [every pixel-map method of the job].</summary>
public static class SanityOptions
{
    /// <param name="jobMethods">The job's methods, which <c>methods</c> must name.</param>
    public static SanitySpec Read(string json, IReadOnlyList<MethodSpec> jobMethods)
    {
        var o = OptionsReader.Parse(json, "sanity.");
        var samples = o.Integer("samples", SanitySpec.DefaultSamples, 1, 100_000);
        var seed = o.Integer("seed", 0, 0, int.MaxValue);
        var methods = PixelMethodList.Read(o, jobMethods);
        o.RejectUnread();
        return new SanitySpec(samples, seed, methods);
    }
}
