using System.Text.Json;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Which samples an expensive method explains: all of them; a fraction chosen by each sample's own (seed,
/// dataset index); or <see cref="PerClass"/> samples of each stratum (target class × correct), those with the
/// smallest (seed, dataset index) keys over the whole dataset, which a selection pass finds before the
/// explanations (<see cref="Jobs.SampleSelection"/>) and hands over as <see cref="Chosen"/>. Either way the choice is the
/// same whichever shard, batch or silo a sample is in. Samples outside a method's subset get null in its
/// columns and no row in its map files.
/// </summary>
/// <param name="Total">For a stratified subset, at most this many samples in all (0: no cap): the sanity check's
/// sample takes the strata's smallest keys in rounds, one per stratum per round, until it has them.</param>
/// <param name="Proportional">Drawn in the dataset's proportions rather than by stratum: the <see cref="Total"/> smallest
/// keys over the whole dataset (one stratum), a simple random sample that is the same however the dataset was sharded
/// (pruning's, whose accuracy must be the dataset's).</param>
/// <param name="Whole">Every shard receives all of its chosen indices, not only its own: a table method's background rows.</param>
/// <param name="ByLabel">Strata by label alone (not target class × correct): a table method's background of <see cref="PerClass"/> rows per label.</param>
public sealed record Subset(double Fraction, long Seed, int PerClass = 0, int Total = 0, bool Proportional = false, bool Whole = false, bool ByLabel = false)
{
    /// <summary>
    /// A table method's data sample (its background, or lime's training statistics): <paramref name="rows"/> rows at random
    /// (the smallest keys of (seed, dataset index), in the dataset's proportions), chosen in the selection pass, every
    /// shard receiving all of them.
    /// </summary>
    public static Subset Rows(int rows, long seed) => new(1, seed, rows, rows, Proportional: true, Whole: true);

    /// <summary>
    /// A table method's background stratified by label: <paramref name="rows"/> rows of each label (the smallest keys of
    /// (seed, dataset index) within it; all of a label's rows when it has fewer), chosen in the selection pass, every shard
    /// receiving all of them.
    /// </summary>
    public static Subset PerLabel(int rows, long seed) => new(1, seed, rows, Whole: true, ByLabel: true);

    /// <summary>
    /// A table method's data sample option (<paramref name="field"/>): <c>{"samples": N, "seed": s}</c>, N rows by default
    /// <paramref name="rows"/>.
    /// </summary>
    public static Subset ReadRows(OptionsReader options, string field, int rows)
    {
        var path = options.Prefix + field;
        switch (options.Raw(field))
        {
            case null:
                return Rows(rows, 0);
            case { ValueKind: JsonValueKind.Object } o:
                var reader = new OptionsReader(o, path + ".");
                var sample = Rows(reader.Integer("samples", rows, 1, 100_000), reader.Integer("seed", 0, 0, int.MaxValue));
                reader.RejectUnread();
                return sample;
            default:
                throw new ExplainException($"{path}: expected {{\"samples\": N, \"seed\": s}} (rows of the data chosen at random)");
        }
    }

    public static Subset All { get; } = new(1, 0);

    public bool IsAll => PerClass == 0 && Fraction >= 1;

    /// <summary>Whether the choice needs the selection pass (a stratified subset).</summary>
    public bool IsStratified => PerClass > 0;

    /// <summary>A stratified subset's chosen dataset indices (this shard's at least), once selected.</summary>
    public IReadOnlySet<long>? Chosen { get; init; }

    public bool Includes(long index) => PerClass > 0
        ? (Chosen ?? throw new InvalidOperationException("a stratified subset is used before its selection pass")).Contains(index)
        : IsAll || SampleSeeds.For(Seed, index) / 18446744073709551616.0 < Fraction;

    /// <summary>
    /// Every method's <c>subset</c> option: <c>"all"</c> (the default), <c>{"fraction": f, "seed": s}</c> or
    /// <c>{"perClass": K, "seed": s}</c>.
    /// </summary>
    public static Subset Read(OptionsReader options)
    {
        var path = options.Prefix + "subset";
        switch (options.Raw("subset"))
        {
            case null:
            case { ValueKind: JsonValueKind.String } s when s.GetString() == "all":
                return All;
            case { ValueKind: JsonValueKind.Object } o:
                var reader = new OptionsReader(o, path + ".");
                var stratified = o.TryGetProperty("perClass", out _);
                if (stratified && o.TryGetProperty("fraction", out _))
                    throw new ExplainException($"{path}: give either fraction or perClass, not both");
                var perClass = stratified ? reader.Integer("perClass", 0, 1, int.MaxValue) : 0;
                var fraction = stratified ? 1 : reader.Number("fraction", double.NaN, double.Epsilon, 1, "a number in (0, 1]");
                if (double.IsNaN(fraction)) throw new ExplainException($"{path}: expected {{\"fraction\": f}} or {{\"perClass\": K}}");
                var seed = reader.Integer("seed", 0, 0, int.MaxValue);
                reader.RejectUnread();
                return new Subset(fraction, seed, perClass);
            default:
                throw new ExplainException($"{path}: expected \"all\", {{\"fraction\": f}} or {{\"perClass\": K}}");
        }
    }
}
