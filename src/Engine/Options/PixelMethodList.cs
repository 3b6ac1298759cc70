using System.Text.Json;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Options;

/// <summary>A block's <c>methods</c> option (the sanity check's, the trust metrics'): some of the job's methods whose maps lie over the pixels.</summary>
public static class PixelMethodList
{
    /// <returns>The names, or null when the option is absent (every pixel-map method of the job).</returns>
    public static string[]? Read(OptionsReader o, IReadOnlyList<MethodSpec> jobMethods)
    {
        if (o.Raw("methods") is not { } raw) return null;
        var path = o.Prefix + "methods";
        if (raw.ValueKind != JsonValueKind.Array || raw.GetArrayLength() == 0 || raw.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw new ExplainException($"{path}: expected a list of the job's method names");
        string[] methods = [.. raw.EnumerateArray().Select(e => e.GetString()!)];
        foreach (var name in methods)
        {
            var spec = jobMethods.FirstOrDefault(m => m.Name == name)
                ?? throw new ExplainException($"{path}: \"{name}\" is not a method of this job ({string.Join(", ", jobMethods.Select(m => m.Name))})");
            if (!Methods.MethodRegistry.Create(spec).MapsPixels)
                throw new ExplainException($"{path}: \"{name}\" has no maps over the pixels to compare");
        }
        return methods;
    }
}
