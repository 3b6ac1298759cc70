using ExplainCluster.Engine;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// Per-sample parameter gradients (<see cref="ParameterGradients"/>) against an independent path: for each sample
/// alone, the model's own forward with its parameters requiring gradients, CE loss, autograd.grad with respect
/// to every parameter (<see cref="Loop"/>).
/// </summary>
public class ParamGradTests(ITestOutputHelper output)
{
    internal const double Tolerance = 1e-4;

    [Fact]
    public async Task SquaredNorms_DemoModelOnFashionMnist_MatchThePerSampleLoop()
    {
        using var scope = NewDisposeScope();
        var (x, y) = await FashionMnistAsync(12);
        using var grads = ParameterGradients.Create(TestPaths.Sample("model.pt"), CPU);
        var result = grads.Compute(x, y);
        AssertClose(Loop(TestPaths.Sample("model.pt"), x, y, grads.Layers).Norms, result.SquaredNorms, "demo");
        Assert.All(grads.Layers, l => Assert.True(l.Vectorised, l.How));
        Assert.Equal(["0", "1", "4", "5", "8", "9", "13"], grads.Layers.Select(l => l.Name));
    }

    [Fact]
    public void SquaredNorms_ResNet18Scripted_MatchTheLoopAndAreAllVectorised()
    {
        using var scope = NewDisposeScope();
        var (x, y) = RandomImages(6, 3, 96, 10);
        var path = TestPaths.Fixture("torchvision/resnet18_scripted.pt");
        using var grads = ParameterGradients.Create(path, CPU);
        var result = grads.Compute(x, y);
        foreach (var l in grads.Layers) output.WriteLine($"{l.Name}: {l.Parameters} {l.How}");
        AssertClose(Loop(path, x, y, grads.Layers).Norms, result.SquaredNorms, "resnet18 scripted");
        Assert.All(grads.Layers, l => Assert.True(l.Vectorised, $"{l.Name}: {l.How}"));
        Assert.Contains(grads.Layers, l => l.Name == "layer2.0.downsample.0");
    }

    [Fact]
    public void SquaredNorms_ResNet18Traced_MatchTheLoop()
    {
        using var scope = NewDisposeScope();
        var (x, y) = RandomImages(4, 3, 96, 10);
        var path = TestPaths.Fixture("torchvision/resnet18_traced.pt");
        using var grads = ParameterGradients.Create(path, CPU);
        var result = grads.Compute(x, y);
        foreach (var l in grads.Layers) output.WriteLine($"{l.Name}: {l.Parameters} {l.How}");
        AssertClose(Loop(path, x, y, grads.Layers).Norms, result.SquaredNorms, "resnet18 traced");
    }

    [Fact]
    public void SquaredNorms_GroupedConvAndUnsupportedLayers_FallBackOnlyThereAndMatchTheLoop()
    {
        using var scope = NewDisposeScope();
        var (x, y) = RandomImages(7, 3, 12, 5);
        var path = TestPaths.Fixture("paramgrad_grouped.pt");
        using var grads = ParameterGradients.Create(path, CPU);
        var result = grads.Compute(x, y);
        foreach (var l in grads.Layers) output.WriteLine($"{l.Name}: {l.Parameters} {l.How}");
        AssertClose(Loop(path, x, y, grads.Layers).Norms, result.SquaredNorms, "grouped");
        Assert.Equal(["conv1", "conv2", "act", "conv3", "norm", "fc"], grads.Layers.Select(l => l.Name));
        Assert.Equal([true, true, false, true, false, true], grads.Layers.Select(l => l.Vectorised));
        Assert.Contains("PReLU", grads.Layers[2].How);
    }

    [Fact]
    public void SquaredNorms_LinearOverExtraDims_AreVectorisedAndMatchTheLoop()
    {
        using var scope = NewDisposeScope();
        var (x, y) = Inputs("paramgrad_tokens.pt", 6);
        var path = TestPaths.Fixture("paramgrad_tokens.pt");
        using var grads = ParameterGradients.Create(path, CPU);
        var result = grads.Compute(x, y);
        AssertClose(Loop(path, x, y, grads.Layers).Norms, result.SquaredNorms, "tokens");
        Assert.Equal(["embed", "mix", "head"], grads.Layers.Select(l => l.Name));
        Assert.All(grads.Layers, l => Assert.True(l.Vectorised, $"{l.Name}: {l.How}"));
    }

    [Fact]
    public void SquaredNorms_ModuleRunTwice_WholeModelLoopsOverSamplesAndMatchesTheLoop()
    {
        // mix runs twice in forward: its gradient is the sum of two calls', which no single call's rule gives.
        using var scope = NewDisposeScope();
        var (x, y) = Inputs("paramgrad_shared.pt", 6);
        var path = TestPaths.Fixture("paramgrad_shared.pt");
        using var grads = ParameterGradients.Create(path, CPU);
        var result = grads.Compute(x, y);
        foreach (var l in grads.Layers) output.WriteLine($"{l.Name}: {l.Parameters} {l.How}");
        AssertClose(Loop(path, x, y, grads.Layers).Norms, result.SquaredNorms, "shared");
        Assert.All(grads.Layers, l => Assert.False(l.Vectorised));
        Assert.Contains("module \"mix\" runs more than once", grads.Layers[0].How);
    }

    [Theory]
    [InlineData("tiny_cnn_sequential.pt")]
    [InlineData("paramgrad_grouped.pt")]
    [InlineData("paramgrad_tokens.pt")]
    [InlineData("paramgrad_shared.pt")]
    public void Projection_EqualsTheSketchTimesTheLoopGradients(string model)
    {
        using var scope = NewDisposeScope();
        var (x, y) = Inputs(model, 5);
        var path = TestPaths.Fixture(model);
        using var grads = ParameterGradients.Create(path, CPU, projection: (16, 42));
        var result = grads.Compute(x, y);
        var p = grads.ProjectionMatrix();
        Assert.Equal(new[] { grads.TotalParameters, 16L }, p.shape);
        var expected = Loop(path, x, y, grads.Layers).Flat.matmul(p.to(ScalarType.Float64));
        AssertClose(expected, result.Projected!, $"{model} projection");
        // The sketch is the seed's alone: a second instance draws the same P, another seed another one.
        using var again = ParameterGradients.Create(path, CPU, projection: (16, 42));
        using var other = ParameterGradients.Create(path, CPU, projection: (16, 43));
        Assert.True(again.ProjectionMatrix().allclose(p, rtol: 0, atol: 0));
        Assert.False(other.ProjectionMatrix().allclose(p));
    }

    [Fact]
    public void Compute_BatchInTwoHalves_GivesTheSameRows()
    {
        using var scope = NewDisposeScope();
        var (x, y) = RandomImages(8, 3, 12, 5);
        using var grads = ParameterGradients.Create(TestPaths.Fixture("paramgrad_grouped.pt"), CPU, projection: (8, 1));
        var whole = grads.Compute(x, y);
        var first = grads.Compute(x[..3], y[..3]);
        var second = grads.Compute(x[3..], y[3..]);
        AssertClose(whole.SquaredNorms, cat([first.SquaredNorms, second.SquaredNorms], 0), "norms in halves");
        AssertClose(whole.Projected!, cat([first.Projected!, second.Projected!], 0), "projection in halves");
    }

    [Fact]
    public void Compute_CreatedInAnEndedScope_KeepsWorkingInLaterScopes()
    {
        ParameterGradients grads;
        using (NewDisposeScope()) grads = ParameterGradients.Create(TestPaths.Fixture("paramgrad_grouped.pt"), CPU);
        using (grads)
        {
            using var scope = NewDisposeScope();
            var (x, y) = RandomImages(3, 3, 12, 5);
            float[] first;
            using (NewDisposeScope()) first = grads.Compute(x, y).SquaredNorms.data<float>().ToArray();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using (NewDisposeScope()) Assert.Equal(first, grads.Compute(x, y).SquaredNorms.data<float>().ToArray());
        }
    }

    [Fact]
    public void Compute_MemoryBudgetOfOneSample_GivesTheSameRows()
    {
        // A budget below one sample's gradients forms them one sample at a time (and keeps no sketch chunk).
        using var scope = NewDisposeScope();
        var (x, y) = RandomImages(5, 3, 12, 5);
        var path = TestPaths.Fixture("paramgrad_grouped.pt");
        using var roomy = ParameterGradients.Create(path, CPU, projection: (8, 1));
        using var tight = ParameterGradients.Create(path, CPU, projection: (8, 1), memoryBytes: 1);
        var (a, b) = (roomy.Compute(x, y), tight.Compute(x, y));
        AssertClose(a.SquaredNorms, b.SquaredNorms, "norms, one sample at a time");
        AssertClose(a.Projected!, b.Projected!, "projection, one sample at a time");
    }

    [Fact]
    public void SquaredNorms_TinyLinear_AreSoftmaxMinusOneHotTimesInput()
    {
        // logits = W x + b: ∇W = (softmax − onehot) ⊗ x, ∇b = softmax − onehot, so ‖∇‖² = ‖s − e‖²(‖x‖² + 1).
        using var scope = NewDisposeScope();
        float[] x = [0.5f, -1, 2, 0.25f];
        var logits = new double[3];
        for (var c = 0; c < 3; c++)
        {
            logits[c] = TinyModels.LinearB[c];
            for (var k = 0; k < 4; k++) logits[c] += TinyModels.LinearW[c, k] * x[k];
        }
        var max = logits.Max();
        var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
        var softmax = exp.Select(e => e / exp.Sum()).ToArray();
        const int target = 1;
        var residual = softmax.Select((s, c) => s - (c == target ? 1 : 0)).Sum(r => r * r);
        var expected = residual * (x.Sum(v => (double)v * v) + 1);
        using var grads = ParameterGradients.Create(TestPaths.Fixture("tiny_linear.pt"), CPU);
        var norms = grads.Compute(tensor(x, [1, 4]), tensor(new long[] { target }));
        Assert.Equal(expected, norms.SquaredNorms.item<float>(), 1e-5 * expected);
        Assert.Equal("0", Assert.Single(grads.Layers).Name);
    }

    [Fact]
    public void Layers_Subset_KeepsModuleOrderAndMatchesTheFullRun()
    {
        using var scope = NewDisposeScope();
        var (x, y) = RandomImages(4, 3, 12, 5);
        var path = TestPaths.Fixture("paramgrad_grouped.pt");
        using var all = ParameterGradients.Create(path, CPU);
        using var some = ParameterGradients.Create(path, CPU, ["fc", "act", "conv2"]);
        Assert.Equal(["conv2", "act", "fc"], some.Layers.Select(l => l.Name));
        AssertClose(all.Compute(x, y).SquaredNorms.index_select(1, tensor(new long[] { 1, 2, 5 })), some.Compute(x, y).SquaredNorms, "subset");
    }

    [Fact]
    public void Layers_UnknownName_IsOneLineNamingSomeChoices()
    {
        var error = Assert.Throws<ExplainException>(() =>
            ParameterGradients.Create(TestPaths.Fixture("torchvision/resnet18_scripted.pt"), CPU, ["layer4.1.conv9"]));
        Assert.StartsWith("unknown param-grads layer \"layer4.1.conv9\"", error.Message);
        Assert.Contains("\"conv1\", \"bn1\", \"layer1.0.conv1\"", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    private static (Tensor X, Tensor Y) Inputs(string model, int n) => model switch
    {
        "tiny_cnn_sequential.pt" => RandomImages(n, 1, 3, 2),
        "paramgrad_grouped.pt" => RandomImages(n, 3, 12, 5),
        _ => (randn([n, 4, 6], generator: new Generator(3)), randint(3, [n], generator: new Generator(4))),
    };

    private static (Tensor X, Tensor Y) RandomImages(int n, int channels, int side, int classes)
    {
        using var generator = new Generator(7);
        var x = randn([n, channels, side, side], generator: generator);
        var y = randint(classes, [n], generator: generator);
        return (x, y);
    }

    private static async Task<(Tensor X, Tensor Y)> FashionMnistAsync(int n)
    {
        var images = await ArrayFile.OpenAsync(new LocalBlob(TestPaths.Sample("t10k-images-idx3-ubyte")));
        var labels = await ArrayFile.OpenAsync(new LocalBlob(TestPaths.Sample("t10k-labels-idx1-ubyte")));
        var x = (tensor(await images.ReadFloatsAsync(0, n), [n, 1, 28, 28]) / 255.0f - 0.286f) / 0.353f;
        return (x, tensor(await labels.ReadIntegersAsync(0, n)));
    }

    /// <summary>
    /// The independent path: each sample alone through the model's own forward, CE, autograd.grad with respect to
    /// all parameters. Per-sample squared norms per layer [n, L] and flattened gradients [n, total] (layer order, float64).
    /// </summary>
    internal static (Tensor Norms, Tensor Flat) Loop(string path, Tensor x, Tensor y, IReadOnlyList<ParameterLayer> layers)
    {
        using var grad = enable_grad();
        using var model = jit.load(path);
        model.eval();
        var parameters = model.named_parameters().ToList();
        foreach (var (_, p) in parameters) p.requires_grad = true;
        var n = x.shape[0];
        var norms = zeros([n, layers.Count], ScalarType.Float64);
        var flat = new List<Tensor>();
        for (var i = 0; i < n; i++)
        {
            var logits = (Tensor)model.call(x.narrow(0, i, 1));
            var loss = nn.functional.cross_entropy(logits, y.narrow(0, i, 1), reduction: nn.Reduction.Sum);
            var grads = Gradients.Of("the loss", [loss], [.. parameters.Select(p => (Tensor)p.parameter)]);
            var row = new List<Tensor>();
            for (var l = 0; l < layers.Count; l++)
            {
                var prefix = layers[l].Name + ".";
                var parts = parameters.Select((p, k) => (p.name, k))
                    .Where(p => p.name.StartsWith(prefix, StringComparison.Ordinal) && !p.name[prefix.Length..].Contains('.'))
                    .Select(p => grads[p.k].to(ScalarType.Float64).flatten()).ToList();
                var layer = cat(parts, 0);
                norms[i, l] = layer.square().sum();
                row.Add(layer);
            }
            flat.Add(cat(row, 0));
        }
        return (norms, stack(flat));
    }

    private void AssertClose(Tensor expected, Tensor actual, string what) => AssertClose(output, expected, actual, what);

    /// <summary>Entrywise within <see cref="Tolerance"/> relative to each entry, with a floor at 1e-3 of its column's largest.</summary>
    internal static void AssertClose(ITestOutputHelper output, Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.to(ScalarType.Float64);
        var a = actual.detach().to(ScalarType.Float64);
        // Relative to each entry's magnitude, with a floor at 1e-3 of the largest entry of its column (norms near 0).
        var scale = e.abs().maximum(e.abs().amax([0], keepdim: true) * 1e-3).clamp_min(1e-12);
        var error = ((a - e).abs() / scale).max().item<double>();
        output.WriteLine($"{what}: max relative error {error:G3}");
        Assert.True(error <= Tolerance, $"{what}: max relative error {error} exceeds {Tolerance}");
    }
}
