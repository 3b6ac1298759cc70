using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The job file's <c>views.maximisation</c> object, read strictly. Defaults are tuned on the demo's 28×28
/// Fashion-MNIST CNN in its normalised input space (std ≈ 0.35, so one unit ≈ 0.35 of the pixel range); they
/// carry over to 3-channel images except <see cref="Jitter"/> and <see cref="BlurSigma"/>, which are in pixels
/// and want scaling with the image (≈ 8 and 1 for 224×224, as Lucid uses).
/// </summary>
/// <param name="Steps">Gradient-ascent steps [256].</param>
/// <param name="Seed">Seeds each objective's start and jitter, per objective [0].</param>
/// <param name="LearningRate">Step size [0.1]: Adam's, in input units per step.</param>
/// <param name="Optimiser">"adam" [default, as Olah et al. 2017] or "sgd" (x += learningRate · ∇).</param>
/// <param name="L2">λ of the penalty λ‖x‖² (sum over the input) [0.001].</param>
/// <param name="Tv">Weight of the total-variation penalty Σ (neighbour differences)² over rows and columns [0.005].</param>
/// <param name="Jitter">Largest random shift in pixels, per step and row, wrapping around (0 = none) [1].</param>
/// <param name="BlurEvery">Gaussian blur of the input every this many steps (0 = never) [8].</param>
/// <param name="BlurSigma">The blur's σ in pixels [0.5].</param>
/// <param name="Init">Standard deviation of the seeded normal start [0.1].</param>
/// <param name="Channels">How many of the Grad-CAM layer's most important channels to visualise as well [4].</param>
public sealed record MaximisationOptions(
    int Steps = 256,
    int Seed = 0,
    double LearningRate = 0.1,
    string Optimiser = "adam",
    double L2 = 0.001,
    double Tv = 0.005,
    int Jitter = 1,
    int BlurEvery = 8,
    double BlurSigma = 0.5,
    double Init = 0.1,
    int Channels = 4)
{
    public const string Prefix = "views.maximisation.";

    public static readonly string[] Optimisers = ["adam", "sgd"];

    /// <param name="json">The object's text.</param>
    public static MaximisationOptions Read(string json)
    {
        var o = OptionsReader.Parse(json, Prefix);
        var d = new MaximisationOptions();
        var options = new MaximisationOptions(
            Steps: o.Integer("steps", d.Steps, 1, 100_000),
            Seed: o.Integer("seed", d.Seed, 0, int.MaxValue),
            LearningRate: o.Number("learningRate", d.LearningRate, double.Epsilon, 1e6, "a positive number"),
            Optimiser: o.Choice("optimiser", Optimisers),
            L2: o.Number("l2", d.L2, 0, 1e6, "a number ≥ 0"),
            Tv: o.Number("tv", d.Tv, 0, 1e6, "a number ≥ 0"),
            Jitter: o.Integer("jitter", d.Jitter, 0, 1024),
            BlurEvery: o.Integer("blurEvery", d.BlurEvery, 0, 100_000),
            BlurSigma: o.Number("blurSigma", d.BlurSigma, double.Epsilon, 100, "a positive number up to 100"),
            Init: o.Number("init", d.Init, 0, 1e6, "a number ≥ 0"),
            Channels: o.Integer("channels", d.Channels, 0, 65536));
        o.RejectUnread();
        return options;
    }
}
