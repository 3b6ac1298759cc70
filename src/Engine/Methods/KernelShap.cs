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
        var (coalitions, weights) = Coalitions.Shapley(game.Counts, batch.Indices, samples, seed, batch.Input.device);
        var outputs = game.Values(coalitions, maxRows ?? batch.MaxRows, probability);
        var (n, rows, width) = (coalitions.shape[0], coalitions.shape[1], coalitions.shape[2]);
        var (whole, none) = (outputs.select(1, 0), outputs.select(1, 1)); // rows 0 and 1: f(x), f(∅)
        var gain = whole - none;

        // Eliminate the last feature with Σφ = gain: y − f(∅) − z_last·gain = Σⱼ (zⱼ − z_last) φⱼ over the others.
        var last = game.CountTensor() - 1;
        var lastColumn = coalitions.gather(2, last.view(n, 1, 1).expand(n, rows, 1)).to(ScalarType.Float64);
        var x = coalitions.to(ScalarType.Float64) - lastColumn;
        var y = outputs - none.unsqueeze(1) - lastColumn.squeeze(2) * gain.unsqueeze(1);
        var lastOnly = nn.functional.one_hot(last, width).to(ScalarType.Float64);
        var (others, _) = WeightedLeastSquares.Solve(x, y, weights, (game.Absent() + lastOnly).clamp_max(1), alpha: 0, intercept: false);
        var phi = others + lastOnly * (gain - others.sum(1)).unsqueeze(1);
        return new MethodOutput(game.Paint(phi), [(phi.sum(1) - gain).to(ScalarType.Float32)]);
    }
}
