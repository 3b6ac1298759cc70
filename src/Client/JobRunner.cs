using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Grains;

namespace ExplainCluster.Client;

/// <summary>Submits a job to a cluster and follows it to the end with long polls (short calls that return on news).</summary>
public static class JobRunner
{
    public static readonly ActivitySource Activities = new("ExplainCluster.Client");

    /// <summary>Longest single wait for news from the job grain: well under Orleans' 30 s response timeout.</summary>
    private static readonly TimeSpan LongPoll = TimeSpan.FromSeconds(5);

    public static bool IsRunning(JobState state) => state is JobState.Running or JobState.Finalizing;

    /// <summary>A fresh job id: the job's name and a random suffix.</summary>
    public static string NewId(JobSpec job) => $"{job.Name}-{Guid.NewGuid():N}";

    /// <summary>Submits and follows to the end.</summary>
    public static async Task<JobStatus> RunAsync(
        IGrainFactory grains, JobSpec job, Action<JobStatus>? progress = null, CancellationToken ct = default)
    {
        using var activity = Activities.StartActivity("explain.run");
        activity?.SetTag("explain.job.name", job.Name);
        var jobId = NewId(job);
        activity?.SetTag("explain.job", jobId);
        var status = await grains.GetGrain<IJobGrain>(jobId).StartAsync(job);
        status = await FollowAsync(grains, jobId, status, progress, ct);
        if (status.State == JobState.Failed) activity?.SetStatus(ActivityStatusCode.Error, status.Error);
        return status;
    }

    /// <summary>How long a call is retried while the job grain's silo is replaced (membership declares it dead, the grain reactivates).</summary>
    private static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(60);

    /// <summary>Calls the cluster, retrying with backoff while a silo it needs is being replaced.</summary>
    public static Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken ct = default) => ClusterCalls.RetryAsync(call, RetryFor, ct: ct);

    /// <summary>Follows a started job until it ends, reporting each change.</summary>
    public static async Task<JobStatus> FollowAsync(
        IGrainFactory grains, string jobId, JobStatus status, Action<JobStatus>? progress = null, CancellationToken ct = default)
    {
        var grain = grains.GetGrain<IJobGrain>(jobId);
        while (IsRunning(status.State))
        {
            progress?.Invoke(status);
            ct.ThrowIfCancellationRequested();
            status = await CallAsync(() => grain.WaitForChangeAsync(LongPoll), ct);
        }
        progress?.Invoke(status);
        return status;
    }
}
