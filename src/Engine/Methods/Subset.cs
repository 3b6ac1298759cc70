using System.Text.Json;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Which samples an expensive method explains: all of them, or a fraction chosen by each sample's own
/// (seed, dataset index), so the choice is the same whichever shard, batch or silo the sample is in. Samples
/// outside a method's subset get null in its columns and no row in its map files.
/// </summary>
public sealed record Subset(double Fraction, long Seed)
{
    public static Subset All { get; } = new(1, 0);

    public bool IsAll => Fraction >= 1;

    public bool Includes(long index) => IsAll || SampleSeeds.For(Seed, index) / 18446744073709551616.0 < Fraction;

    /// <summary>Every method's <c>subset</c> option: <c>"all"</c> (the default) or <c>{"fraction": f, "seed": s}</c>.</summary>
    public static Subset Read(OptionsReader options)
    {
        var path = options.Prefix + "subset";
        switch (options.Raw("subset"))
        {
            case null:
            case { ValueKind: JsonValueKind.String } s when s.GetString() == "all":
                return All;
            case { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("perClass", out _):
                throw new ExplainException($"{path}.perClass: a stratified subset is not available yet; use {{\"fraction\": f}}");
            case { ValueKind: JsonValueKind.Object } o:
                var reader = new OptionsReader(o, path + ".");
                var fraction = reader.Number("fraction", double.NaN, double.Epsilon, 1, "a number in (0, 1]");
                if (double.IsNaN(fraction)) throw new ExplainException($"{path}.fraction: missing");
                var seed = reader.Integer("seed", 0, 0, int.MaxValue);
                reader.RejectUnread();
                return new Subset(fraction, seed);
            default:
                throw new ExplainException($"{path}: expected \"all\" or {{\"fraction\": f}} (a stratified {{\"perClass\": K}} is not available yet)");
        }
    }
}
