using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Permutation SHAP (as shap's PermutationExplainer) over an image's segments or a table's features (<see cref="IPlayers"/>):
/// for each of <c>permutations</c> random orders of the k players, from the empty coalition each player is switched on
/// in turn (k + 1 coalitions) and then off again in the same order (k more), so every order is walked forwards and,
/// antithetically, backwards: 2k + 1 evaluations a permutation (shap's <c>max_evals // (2k + 1)</c> permutations).
/// φⱼ is the mean of j's 2·permutations marginal contributions, so Σφ = f(x) − f(∅) exactly and a game additive in its
/// players (a linear model over independent features) gets its exact Shapley values from any one permutation.
/// Each sample's orders come from its own generator seeded by (seed, dataset index).
/// </summary>
public sealed class PermutationShap(int permutations, IPlayers players, bool probability, long seed, int? maxRows) : IAttributionMethod
{
    public const string MethodName = "permutation-shap";

    public long? Seed => seed;

    public string Name => MethodName;

    public bool UsesSharedGradients => false;

    public bool UsesSegments => players.UsesSegments;

    public Subset? Background => players.Background;

    public KMeansBackground? BackgroundSummary => players.Summary;

    public MethodOutput Attribute(MethodBatch batch)
    {
        var game = players.Game(batch);
        var counts = game.Counts;
        var (n, width) = (counts.Length, counts.Max());
        var walk = 2 * width + 1; // a permutation's coalitions (a sample with fewer players pads with empty ones)
        var rows = permutations * walk;
        var masks = new byte[checked(n * rows * width)];
        var orders = new int[n][];
        for (var i = 0; i < n; i++)
        {
            var k = counts[i];
            var random = new Random(unchecked((int)SampleSeeds.For(seed, batch.Indices[i])));
            orders[i] = new int[permutations * k];
            var order = Enumerable.Range(0, k).ToArray();
            for (var p = 0; p < permutations; p++)
            {
                for (var j = k - 1; j > 0; j--)
                {
                    var swap = random.Next(j + 1);
                    (order[j], order[swap]) = (order[swap], order[j]);
                }
                order.CopyTo(orders[i], p * k);
                var mask = new byte[width];
                for (var step = 1; step <= 2 * k; step++)
                {
                    mask[order[(step - 1) % k]] = (byte)(step <= k ? 1 : 0);
                    mask.CopyTo(masks.AsSpan((i * rows + p * walk + step) * width, width));
                }
            }
        }
        var values = game.Values(new CoalitionMasks(masks, n, rows, width), maxRows ?? batch.MaxRows, probability).cpu().data<double>().ToArray();

        var phi = new double[n * width];
        for (var i = 0; i < n; i++)
        {
            var k = counts[i];
            for (var p = 0; p < permutations; p++)
            {
                var v = values.AsSpan(i * rows + p * walk, walk);
                for (var j = 0; j < k; j++)
                    phi[i * width + orders[i][p * k + j]] += v[j + 1] - v[j] + (v[k + j] - v[k + j + 1]);
            }
        }
        for (var e = 0; e < phi.Length; e++) phi[e] /= 2.0 * permutations;
        return game.Paint(tensor(phi, [n, width]).to(batch.Input.device));
    }
}
