using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Views;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>The demo model and its ten class maximisations at the default options, computed once for the tests that read them.</summary>
public sealed class DemoMaximisations : IDisposable
{
    public static readonly int[] Shape = [1, 28, 28];

    /// <summary>The demo's pixel range [0, 255] through its preprocessing.</summary>
    public static readonly InputBounds Bounds = InputBounds.For(new PreprocessSpec(1 / 255.0, [0.286], [0.353], null), 1);

    public DemoMaximisations()
    {
        Model = ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt");
        Classes = ActivationMaximisation.Run(Model, Shape, [.. Enumerable.Range(0, 10).Select(c => (Objective)new ClassObjective(c))], new MaximisationOptions(), Bounds);
    }

    public ExplainModel Model { get; }

    public IReadOnlyList<MaximisationResult> Classes { get; }

    public void Dispose() => Model.Dispose();
}

public class MaximisationTests(DemoMaximisations demo) : IClassFixture<DemoMaximisations>
{
    /// <summary>
    /// Measured at the defaults (256 steps): every class's logit goes from −11.8…+2.2 at its start to 13.8…31.3 at the
    /// end (a rise ≥ 11.6), the last quarter's mean lies 4.2…17.6 above the first quarter's (most of the rise is in the
    /// first quarter), and each class takes ≥ 0.992 of the softmax. The bounds leave a margin: rises of 8 and 2 logits,
    /// a probability of 0.95.
    /// </summary>
    [Fact]
    public void Run_EveryDemoClass_LogitRisesAndClassDominates()
    {
        foreach (var r in demo.Classes)
        {
            var t = r.Trajectory;
            var quarter = t.Length / 4;
            var first = t.Take(quarter).Average();
            var last = t.Skip(t.Length - quarter).Average();
            Assert.True(last > first + 2, $"{r.Objective}: last quarter {last} vs first {first}");
            Assert.True(r.Value > t[0] + 8, $"{r.Objective}: final {r.Value} vs start {t[0]}");
            Assert.True(r.Probability > 0.95f, $"{r.Objective}: probability {r.Probability}");
            Assert.Equal(784, r.Input.Length);
            Assert.All(r.Input, v => Assert.InRange(v, DemoMaximisations.Bounds.Low[0], DemoMaximisations.Bounds.High[0]));
        }
    }

    /// <summary>A class's result does not depend on the other classes run with it (the fixture ran all ten).</summary>
    [Fact]
    public void Run_ClassAlone_EqualsItsResultAmongAllClasses()
    {
        var alone = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, new ClassObjective(7), new MaximisationOptions(), DemoMaximisations.Bounds);
        var among = demo.Classes[7];
        Assert.Equal(among.Input, alone.Input);
        Assert.Equal(among.Trajectory, alone.Trajectory);
        Assert.Equal(among.Probabilities, alone.Probabilities);
    }

    /// <summary>Batched rows agree with their runs alone up to libtorch's rounding for another batch size (measured ≤ 1e-6 after 8 steps).</summary>
    [Fact]
    public void Run_Batched_AgreesWithAloneUpToRounding()
    {
        var options = new MaximisationOptions(Steps: 8);
        Objective[] objectives = [new ClassObjective(1), new ClassObjective(7), new ClassObjective(9)];
        var alone = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, objectives, options, DemoMaximisations.Bounds);
        var batched = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, objectives, options, DemoMaximisations.Bounds, batched: true);
        for (var i = 0; i < objectives.Length; i++)
        {
            Assert.Equal(alone[i].Objective, batched[i].Objective);
            Assert.All(alone[i].Input.Zip(batched[i].Input), p => Assert.Equal(p.First, p.Second, 1e-5f));
            Assert.All(alone[i].Trajectory.Zip(batched[i].Trajectory), p => Assert.Equal(p.First, p.Second, 1e-4f));
        }
    }

    [Fact]
    public void Run_SameSeed_BitIdentical_OtherSeed_OtherImage()
    {
        var options = new MaximisationOptions(Steps: 64, Seed: 3);
        var a = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, new ClassObjective(2), options, DemoMaximisations.Bounds);
        var b = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, new ClassObjective(2), options, DemoMaximisations.Bounds);
        var c = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, new ClassObjective(2), options with { Seed = 4 }, DemoMaximisations.Bounds);
        Assert.Equal(a.Input, b.Input);
        Assert.Equal(a.Trajectory, b.Trajectory);
        var difference = a.Input.Zip(c.Input, (p, q) => Math.Abs(p - q)).Average();
        Assert.True(difference > 0.05, $"mean |difference| {difference}");
    }

    /// <summary>tiny_linear.pt: y = Wx + b. With only λ‖x‖², the maximiser of w_c·x − λ‖x‖² is x* = W[c]/(2λ).</summary>
    [Theory]
    [InlineData(0, 0.5)]
    [InlineData(2, 0.25)]
    public void Run_TinyLinearWithL2Only_ConvergesToWOverTwoLambda(int target, double lambda)
    {
        using var model = TinyModels.Load("tiny_linear.pt");
        var options = new MaximisationOptions(Steps: 256, LearningRate: 0.1, Optimiser: "sgd", L2: lambda, Tv: 0, Jitter: 0, BlurEvery: 0);
        var r = ActivationMaximisation.Run(model, [4], new ClassObjective(target), options);
        for (var i = 0; i < 4; i++) Assert.Equal(TinyModels.LinearW[target, i] / (2 * lambda), r.Input[i], 4);
        var optimum = Enumerable.Range(0, 4).Sum(i => TinyModels.LinearW[target, i] * TinyModels.LinearW[target, i]) / (2 * lambda) + TinyModels.LinearB[target];
        Assert.Equal(optimum, r.Value, 3);
        // Adam reaches the same point, less exactly (its steps stay about the learning rate until v forgets).
        var adam = ActivationMaximisation.Run(model, [4], new ClassObjective(target), options with { Optimiser = "adam", Steps = 1024, LearningRate = 0.05 });
        for (var i = 0; i < 4; i++) Assert.Equal(TinyModels.LinearW[target, i] / (2 * lambda), adam.Input[i], 1);
    }

    [Fact]
    public void Run_ChannelOfGradCamLayer_MeanActivationRises()
    {
        var options = new MaximisationOptions(Steps: 128);
        var results = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, [new ChannelObjective("10", 0), new ChannelObjective("10", 5)], options, DemoMaximisations.Bounds);
        foreach (var r in results)
        {
            var quarter = r.Trajectory.Length / 4;
            Assert.True(r.Trajectory.Skip(r.Trajectory.Length - quarter).Average() > r.Trajectory.Take(quarter).Average() + 0.1,
                $"{r.Objective}: {r.Trajectory[0]} → {r.Value}");
            Assert.True(r.Value > 2 * r.Trajectory[0] + 1, $"{r.Objective}: {r.Trajectory[0]} → {r.Value}");
            Assert.Null(r.Probability);
        }
        var alone = ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, new ChannelObjective("10", 5), options, DemoMaximisations.Bounds);
        Assert.Equal(results[1].Input, alone.Input);
    }

    [Fact]
    public void Run_ChannelAndClassSeeds_DifferentStreams()
    {
        Assert.NotEqual(new ClassObjective(3).StartSeed(0), new ChannelObjective("10", 3).StartSeed(0));
        Assert.NotEqual(new ChannelObjective("10", 3).StartSeed(0), new ChannelObjective("9", 3).StartSeed(0));
    }

    [Fact]
    public void Run_UnknownChannelOrClass_SaysWhich()
    {
        var options = new MaximisationOptions(Steps: 1);
        var e = Assert.Throws<ExplainException>(() => ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, new ClassObjective(10), options));
        Assert.Equal("views.maximisation: class 10 is beyond the model's 10 classes", e.Message);
        e = Assert.Throws<ExplainException>(() => ActivationMaximisation.Run(demo.Model, DemoMaximisations.Shape, new ChannelObjective("10", 4096), options));
        Assert.StartsWith("views.maximisation: channel 4096 is beyond layer \"10\"'s output", e.Message);
    }

    [Fact]
    public void Run_ImageRegularisersOnFlatInput_Fails()
    {
        using var model = TinyModels.Load("tiny_linear.pt");
        var e = Assert.Throws<ExplainException>(() => ActivationMaximisation.Run(model, [4], new ClassObjective(0), new MaximisationOptions(Steps: 1)));
        Assert.Equal("views.maximisation: jitter, tv and blurEvery need image inputs [C, H, W]; set them to 0 for input shape [4]", e.Message);
    }

    /// <summary>∂y_c/∂A[k, p] = W[c, 9k + p] on the tiny CNN, whatever x: ᾱ_k = mean_p W[c, 9k + p].</summary>
    [Fact]
    public void GradCamWeights_TinyCnn_MatchHeadWeights()
    {
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        using var scope = NewDisposeScope();
        var inputs = randn(5, 1, 3, 3, generator: new TorchSharp.torch.Generator(1));
        var weights = ChannelImportance.GradCamWeights(model, "1", inputs, full(5, 1L, dtype: int64), maxRows: 2);
        for (var k = 0; k < 2; k++) Assert.Equal(Enumerable.Range(0, 9).Average(p => TinyModels.HeadW(1, k, p)), weights[k], 4);
        Assert.Equal([1, 0], ChannelImportance.Top(weights, 2));
        var activation = ChannelImportance.MeanAbsActivation(model, "1", inputs);
        Assert.Equal(2, activation.Length);
    }

    [Fact]
    public void Top_Ties_GoToLowerIndex() =>
        Assert.Equal([3, 1, 2], ChannelImportance.Top([0.1f, 0.5f, 0.5f, 0.9f, -1f], 3));

    [Fact]
    public void Read_Defaults_AndEveryField()
    {
        Assert.Equal(new MaximisationOptions(), MaximisationOptions.Read("{}"));
        Assert.Equal(new MaximisationOptions(256, 0), MaximisationOptions.Read("""{ "steps": 256, "seed": 0 }"""));
        var all = MaximisationOptions.Read("""
            { "steps": 10, "seed": 2, "learningRate": 0.5, "optimiser": "sgd", "l2": 0, "tv": 0.1, "jitter": 8,
              "blurEvery": 0, "blurSigma": 1, "init": 0, "channels": 0 }
            """);
        Assert.Equal(new MaximisationOptions(10, 2, 0.5, "sgd", 0, 0.1, 8, 0, 1, 0, 0), all);
    }

    [Theory]
    [InlineData("""{ "step": 10 }""", "views.maximisation.step: unknown field")]
    [InlineData("""{ "steps": 0 }""", "views.maximisation.steps: expected an integer from 1 to 100000")]
    [InlineData("""{ "l2": -1 }""", "views.maximisation.l2: expected a number ≥ 0")]
    [InlineData("""{ "optimiser": "lbfgs" }""", "views.maximisation.optimiser: expected one of \"adam\", \"sgd\"")]
    [InlineData("[]", "views.maximisation: expected an object")]
    public void Read_BadField_OneLineErrorNamingIt(string json, string message)
    {
        var e = Assert.Throws<ExplainException>(() => MaximisationOptions.Read(json));
        Assert.Equal(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
