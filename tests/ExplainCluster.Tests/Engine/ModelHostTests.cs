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

    [Fact]
    public async Task Abandon_StuckWorkInPoolOfOne_NextWorkRunsOnAReplacementThread()
    {
        using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, new BlobLocator(null));
        using var release = new ManualResetEventSlim();
        var started = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stuckWork = host.RunAsync(() =>
        {
            started.SetResult(Thread.CurrentThread);
            release.Wait();
            return Thread.CurrentThread.Name;
        });
        var stuck = await started.Task;
        var next = host.RunAsync(() => Thread.CurrentThread.Name);
        await Assert.ThrowsAsync<TimeoutException>(() => next.WaitAsync(TimeSpan.FromMilliseconds(200))); // the one thread is taken

        Assert.True(host.Abandon(stuck));
        Assert.False(host.Abandon(stuck));
        var replacement = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("model-host-", replacement);
        Assert.NotEqual(stuck.Name, replacement);
        Assert.Equal((1, 1, 1), (host.WorkerThreads, host.AbandonedThreads, host.StuckThreads));

        // The stuck work still ends (its caller decides what the result is worth), then its thread exits.
        release.Set();
        Assert.Equal(stuck.Name, await stuckWork);
        Assert.True(stuck.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal((1, 1, 0), (host.WorkerThreads, host.AbandonedThreads, host.StuckThreads));
        Assert.Equal(replacement, await host.RunAsync(() => Thread.CurrentThread.Name));
    }
}
