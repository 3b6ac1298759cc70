using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Trust;

/// <summary>
/// The job file's <c>trust</c> object, read strictly: seed [0], subset ["all" | {"fraction"} | {"perClass"}], methods
/// [every pixel-map method], and one entry per metric, each on by default and off with <c>false</c>: complexity [true],
/// sensitivity [{"radius": 0.2, "samples": 10}], randomLogit [true], road [{"percentiles": [10, …, 90], "noise": 0.01}].
/// </summary>
public static class TrustOptions
{
    private const string Prefix = "trust.";

    public static TrustSpec Read(string json, IReadOnlyList<MethodSpec> jobMethods)
    {
        var o = OptionsReader.Parse(json, Prefix);
        var seed = o.Integer("seed", 0, 0, int.MaxValue);
        var subset = Subset.Read(o);
        var methods = PixelMethodList.Read(o, jobMethods);
        var complexity = Switch(o, "complexity");
        var sensitivity = Block(o, "sensitivity", s => new SensitivitySpec(
            s.Number("radius", SensitivitySpec.DefaultRadius, double.Epsilon, 1e6, "a positive number"),
            s.Integer("samples", SensitivitySpec.DefaultSamples, 1, 10_000)));
        var randomLogit = Switch(o, "randomLogit");
        var road = Block(o, "road", r => new RoadSpec(Percentiles(r), r.Number("noise", RoadSpec.DefaultNoise, 0, 1e6, "a number from 0")));
        o.RejectUnread();
        return new TrustSpec(seed, subset.Fraction, subset.PerClass, (int)subset.Seed, complexity, sensitivity, randomLogit, road, methods);
    }

    /// <summary>The subset the expensive metrics run on.</summary>
    public static Subset SubsetOf(TrustSpec spec) => new(spec.SubsetFraction, spec.SubsetSeed, spec.SubsetPerClass);

    private static bool Switch(OptionsReader o, string name) => o.Raw(name) switch
    {
        null => true,
        { ValueKind: JsonValueKind.True or JsonValueKind.False } v => v.GetBoolean(),
        _ => throw new ExplainException($"{Prefix}{name}: expected true or false"),
    };

    /// <summary>A metric's options object, <c>true</c> for its defaults (also when absent), or <c>false</c> to turn it off.</summary>
    private static T? Block<T>(OptionsReader o, string name, Func<OptionsReader, T> read) where T : class
    {
        switch (o.Raw(name))
        {
            case { ValueKind: JsonValueKind.False }:
                return null;
            case null or { ValueKind: JsonValueKind.True }:
                return read(OptionsReader.Parse("{}", $"{Prefix}{name}."));
            case { ValueKind: JsonValueKind.Object } v:
                var reader = new OptionsReader(v, $"{Prefix}{name}.");
                var spec = read(reader);
                reader.RejectUnread();
                return spec;
            default:
                throw new ExplainException($"{Prefix}{name}: expected an object, true or false");
        }
    }

    private static int[] Percentiles(OptionsReader r)
    {
        if (r.Raw("percentiles") is not { } raw) return RoadSpec.DefaultPercentiles;
        var path = r.Prefix + "percentiles";
        if (raw.ValueKind != JsonValueKind.Array || raw.GetArrayLength() == 0
            || raw.EnumerateArray().Any(e => !(e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var p) && p is >= 1 and <= 99)))
            throw new ExplainException($"{path}: expected a list of whole percentages from 1 to 99");
        return [.. raw.EnumerateArray().Select(e => e.GetInt32())];
    }
}
