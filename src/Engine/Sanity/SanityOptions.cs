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
        string[]? methods = null;
        if (o.Raw("methods") is { } raw)
        {
            if (raw.ValueKind != System.Text.Json.JsonValueKind.Array || raw.GetArrayLength() == 0
                || raw.EnumerateArray().Any(e => e.ValueKind != System.Text.Json.JsonValueKind.String))
                throw new ExplainException("sanity.methods: expected a list of the job's method names");
            methods = [.. raw.EnumerateArray().Select(e => e.GetString()!)];
            foreach (var name in methods)
            {
                var spec = jobMethods.FirstOrDefault(m => m.Name == name)
                    ?? throw new ExplainException($"sanity.methods: \"{name}\" is not a method of this job ({string.Join(", ", jobMethods.Select(m => m.Name))})");
                if (!Methods.MethodRegistry.Create(spec).MapsPixels)
                    throw new ExplainException($"sanity.methods: \"{name}\" has no maps over the pixels to compare");
            }
        }
        o.RejectUnread();
        return new SanitySpec(samples, seed, methods);
    }
}
