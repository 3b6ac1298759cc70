using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace ExplainCluster.Grains;

/// <summary>Runs one shard off the Orleans scheduler and reports the outcome to its job.</summary>
[ModelHostPlacement]
public sealed partial class ShardGrain(ShardPipeline pipeline, ILocalSiloDetails silo, IGrainFactory grains, ILogger<ShardGrain> logger)
    : Grain, IShardGrain
{
    Task IShardGrain.StartAsync(ShardRequest request)
    {
        // The shard may take minutes: start it on the thread pool (its tensor work goes on to the model
        // host's threads) and return at once; the job grain hears back through its own methods.
        _ = Task.Run(() => RunAsync(request));
        return Task.CompletedTask;
    }

    private async Task RunAsync(ShardRequest request)
    {
        var job = grains.GetGrain<IJobGrain>(request.JobId);
        try
        {
            var partial = await pipeline.RunAsync(request.Job, request.Shard, silo.SiloAddress.ToString());
            await job.ShardCompletedAsync(partial);
        }
        catch (Exception e)
        {
            var message = e is ExplainException ? e.Message : $"shard {request.Shard.Index} failed: {e.GetType().Name}: {e.Message.Split('\n')[0]}";
            LogShardFailed(logger, e, request.JobId, request.Shard.Index);
            try { await job.ShardFailedAsync(request.Shard.Index, message); }
            catch (Exception report) { LogReportFailed(logger, report, request.JobId, request.Shard.Index); }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} shard {Shard} failed")]
    private static partial void LogShardFailed(ILogger logger, Exception error, string jobId, int shard);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} shard {Shard}: could not report the failure to the job")]
    private static partial void LogReportFailed(ILogger logger, Exception error, string jobId, int shard);
}
