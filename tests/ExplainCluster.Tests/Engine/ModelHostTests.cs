using ExplainCluster.Engine;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Engine;

public class ModelHostTests
{
    [Theory]
    [InlineData("tpu", 1, "ModelHost:Device")]
    [InlineData("cpu", -1, "ModelHost:WorkerThreads")]
    public void Options_WrongSetting_NamesTheKey(string device, int workers, string key)
    {
        var error = Assert.Throws<ExplainException>(() => new ModelHost(new ModelHostOptions { Device = device, WorkerThreads = workers }, new BlobLocator(null)));
        Assert.StartsWith(key, error.Message);
    }

    [Fact]
    public void Defaults_OnCpu_OneWorkerPerCoreSharingTheCores()
    {
        var auto = new ModelHostOptions();
        Assert.Equal(Environment.ProcessorCount, auto.EffectiveWorkerThreads);
        Assert.Equal(1, auto.EffectiveIntraOpThreads);
        var one = new ModelHostOptions { WorkerThreads = 1 };
        Assert.Equal(Environment.ProcessorCount, one.EffectiveIntraOpThreads);
        var set = new ModelHostOptions { WorkerThreads = 3, IntraOpThreads = 2 };
        Assert.Equal((3, 2), (set.EffectiveWorkerThreads, set.EffectiveIntraOpThreads));
        Assert.Equal(1, new ModelHostOptions { Device = "cuda" }.EffectiveWorkerThreads);
    }

    [Fact]
    public void Cuda_WithoutCudaBuild_IsRefusedAtStart()
    {
        var error = Assert.Throws<ExplainException>(() => new ModelHost(new ModelHostOptions { Device = "cuda" }, new BlobLocator(null)));
        Assert.Contains("CUDA is not available", error.Message);
    }

    [Fact]
    public async Task GetModel_TwiceFromManyCallers_LoadsOnce()
    {
        using var host = new ModelHost(new ModelHostOptions(), new BlobLocator(null));
        var path = TestPaths.Fixture("tiny_linear.pt");
        var models = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => host.GetModelAsync(path))));
        Assert.All(models, m => Assert.Same(models[0], m));
        Assert.StartsWith("model-host-", await host.RunAsync(() => Thread.CurrentThread.Name));
    }
}
