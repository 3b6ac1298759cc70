using ExplainCluster.Contracts;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>One shard end to end: ranged read, tensor work on the model host, outputs written, partial returned.</summary>
public sealed class ShardPipeline(ModelHost host, BlobLocator locator)
{
    public async Task<ShardPartial> RunAsync(JobSpec job, ShardSpec shard, string silo, CancellationToken ct = default)
    {
        using var activity = ShardExplainer.Activities.StartActivity("shard.run");
        activity?.SetTag("explain.shard", shard.Index);
        activity?.SetTag("explain.silo", silo);
        var model = await host.GetModelAsync(job.Model.Uri, ct);
        var dataset = await Dataset.OpenAsync(job, locator, ct);
        var data = await dataset.ReadAsync(shard, ct);
        var parent = System.Diagnostics.Activity.Current;
        var result = await host.RunAsync(() =>
        {
            System.Diagnostics.Activity.Current = parent;
            return ShardExplainer.Compute(model, job, shard, data, silo);
        });
        await ShardWriter.WriteAsync(locator.Resolve(job.Output), shard.Index, result, ct);
        return result.Partial;
    }
}
