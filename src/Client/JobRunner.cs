using System.Diagnostics;
using ExplainCluster.Contracts;

namespace ExplainCluster.Client;

/// <summary>Submits a job to a cluster and follows it to the end with long polls (short calls that return on news).</summary>
public static class JobRunner
{
    public static readonly ActivitySource Activities = new("ExplainCluster.Client");

    /// <summary>Longest single wait for news from the job grain: well under Orleans' 30 s response timeout.</summary>
    private static readonly TimeSpan LongPoll = TimeSpan.FromSeconds(5);

    public static async Task<JobStatus> RunAsync(
        IGrainFactory grains, JobSpec job, Action<JobStatus>? progress = null, CancellationToken ct = default)
    {
        using var activity = Activities.StartActivity("explain.run");
        activity?.SetTag("explain.job.name", job.Name);
        var jobId = $"{job.Name}-{Guid.NewGuid():N}";
        activity?.SetTag("explain.job", jobId);
        var grain = grains.GetGrain<IJobGrain>(jobId);
        var status = await grain.StartAsync(job);
        while (status.State is JobState.Running or JobState.Finalizing)
        {
            progress?.Invoke(status);
            ct.ThrowIfCancellationRequested();
            status = await grain.WaitForChangeAsync(LongPoll);
        }
        progress?.Invoke(status);
        if (status.State == JobState.Failed) activity?.SetStatus(ActivityStatusCode.Error, status.Error);
        return status;
    }
}
