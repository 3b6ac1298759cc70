using ExplainCluster.Grains.Hosting;

namespace ExplainCluster.Tests.Cluster;

/// <summary>
/// A stop asked for while the silo starts is a stop whatever shape the host gives it: its services start
/// concurrently, so two of them cancelled at once arrive as one AggregateException. Anything else is a failure.
/// </summary>
public sealed class StartupFailureTests
{
    [Fact]
    public void IsCancellation_AggregateOfCancelledServices_IsAStop()
    {
        var both = new AggregateException(new TaskCanceledException(), new OperationCanceledException());
        Assert.True(StartupFailure.IsCancellation(both));
        Assert.True(StartupFailure.IsCancellation(new AggregateException(both)));
    }

    [Fact]
    public void IsCancellation_AnyRealFailureAmongThem_IsAFailure()
    {
        var mixed = new AggregateException(new TaskCanceledException(), new ClusterSettingsException("Cluster:Redis: no answer"));
        Assert.False(StartupFailure.IsCancellation(mixed));
        Assert.False(StartupFailure.IsCancellation(new AggregateException()));
        Assert.Equal("Cluster:Redis: no answer", StartupFailure.Describe(mixed.InnerExceptions[1]));
    }
}
