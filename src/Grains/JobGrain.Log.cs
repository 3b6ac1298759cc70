using ExplainCluster.Grains.Passes;
using Microsoft.Extensions.Logging;

namespace ExplainCluster.Grains;

/// <summary>The job grain's log messages.</summary>
public sealed partial class JobGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started with {Shards} shards")]
    private static partial void LogStarted(ILogger logger, string jobId, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} resumed in its {Pass} pass: {Done} of {Shards} shards were done")]
    private static partial void LogResumed(ILogger logger, string jobId, JobPass pass, int done, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its {Pass} pass starts over {Shards} shards")]
    private static partial void LogPass(ILogger logger, string jobId, JobPass pass, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed")]
    private static partial void LogCompleted(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cancelled")]
    private static partial void LogCancelled(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string jobId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: finishing failed")]
    private static partial void LogFinishFailed(ILogger logger, Exception error, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} shard {Shard}: attempt {Attempt} was superseded; its result is ignored")]
    private static partial void LogSuperseded(ILogger logger, string jobId, int shard, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its shards' records could not be written; the next save writes them")]
    private static partial void LogSaveFailed(ILogger logger, Exception error, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} shard {Shard}: attempt {Attempt} finished but its outcome did not reach the job; taken from its staging")]
    private static partial void LogTakenFromStaging(ILogger logger, string jobId, int shard, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its explain pass took {Outcomes} outcomes in {Messages} messages")]
    private static partial void LogOutcomeMessages(ILogger logger, string jobId, int outcomes, int messages);
}
