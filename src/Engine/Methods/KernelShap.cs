using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// KernelSHAP (Lundberg and Lee 2017, as shap's KernelExplainer without l1 feature selection) over an image's
/// segments or a table's features (<see cref="IPlayers"/>): coalitions sampled by the Shapley kernel
/// (<see cref="Coalitions.Shapley"/>), the target output on each, then the weighted least-squares fit with the
/// efficiency constraint Σφ = f(x) − f(∅) eliminating the last player, as shap solves it. With <c>samples</c> ≥
/// 2^k − 2 every coalition is used once and φ are the exact Shapley values of the game. Map: each pixel its
/// segment's φ, or each feature its φ; column <c>kernel_shap_delta</c> = Σφ − (f(x) − f(∅)).
/// </summary>
public sealed class KernelShap(int samples, IPlayers players, bool probability, long seed, int? maxRows) : IAttributionMethod
{
    public const string MethodName = "kernel-shap";

    public long? Seed => seed;

    public string Name => MethodName;

    public bool UsesSharedGradients => false;

    public bool UsesSegments => players.UsesSegments;

    public Subset? Background => players.Background;

    public KMeansBackground? BackgroundSummary => players.Summary;

    public IReadOnlyList<string> Columns { get; } = ["kernel_shap_delta"];

    public MethodOutput Attribute(MethodBatch batch)
    {
        var game = players.Game(batch);
        var (coalitions, w) = Coalitions.Shapley(game.Counts, batch.Indices, samples, seed);
        var outputs = game.Values(coalitions, maxRows ?? batch.MaxRows, probability);
        var (n, rows, width, z) = (coalitions.Samples, coalitions.Rows, coalitions.Players, coalitions.Masks);
        var values = outputs.cpu().data<double>().ToArray();
        var absent = game.Absent().cpu().data<double>().ToArray();

        // Eliminate the last player with Σφ = gain: y − f(∅) − z_last·gain = Σⱼ (zⱼ − z_last) φⱼ over the others, each
        // sample's sums accumulated on the host (rows 0 and 1, f(x) and f(∅), and padding weigh 0).
        var (grams, gains, x) = (new WeightedGram[n], new double[n], new float[width]);
        for (var i = 0; i < n; i++)
        {
            var last = game.Counts[i] - 1;
            var (whole, none) = (values[i * rows], values[i * rows + 1]);
            gains[i] = whole - none;
            absent[i * width + last] = 1;
            grams[i] = new WeightedGram(width);
            for (var r = 0; r < rows; r++)
            {
                if (w[i * rows + r] == 0) continue;
                var row = z.AsSpan((i * rows + r) * width, width);
                for (var j = 0; j < width; j++) x[j] = row[j] - row[last];
                grams[i].Add(x, w[i * rows + r], values[i * rows + r] - none - row[last] * gains[i]);
            }
        }
        var device = batch.Input.device;
        var (others, _) = WeightedLeastSquares.Solve(grams, absent, alpha: 0, intercept: false, device);
        var gain = tensor(gains).to(device);
        var lastOnly = nn.functional.one_hot(game.CountTensor().MinusOne(), width).to(ScalarType.Float64); // rooted Scalars (Scalars)
        var phi = others.Plus(lastOnly * (gain - others.sum(1)).unsqueeze(1));
        return new MethodOutput(game.Paint(phi), [(phi.sum(1) - gain).to(ScalarType.Float32)]);
    }
}
