using System.Diagnostics;
using ExplainCluster.Contracts;
using Spectre.Console;

namespace ExplainCluster.Client;

/// <summary>A job's progress on stdout: a bar with samples/s and time left on a terminal, plain lines otherwise.</summary>
public static class Progress
{
    public static async Task<JobStatus> FollowAsync(IGrainFactory grains, string jobId, JobStatus status, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var firstDone = status.SamplesDone;
        // The bar has a time-left column of its own; plain lines carry it in the text.
        string Rate(JobStatus s, bool withTimeLeft = true)
        {
            var seconds = clock.Elapsed.TotalSeconds;
            var rate = seconds < 0.5 ? 0 : (s.SamplesDone - firstDone) / seconds;
            if (rate <= 0) return "";
            var left = TimeSpan.FromSeconds(Math.Round((s.SamplesTotal - s.SamplesDone) / rate));
            return withTimeLeft ? $", {rate:0} samples/s, {left:hh\\:mm\\:ss} left" : $", {rate:0} samples/s";
        }

        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var lastShown = -1;
            string? lastWaiting = null, lastStage = null;
            return await JobRunner.FollowAsync(grains, jobId, status, s =>
            {
                // Why nothing moves, said once each time it changes (no model-host silo, for one).
                if (s.Waiting != lastWaiting && s.Waiting is not null) Console.WriteLine($"waiting: {s.Waiting}");
                lastWaiting = s.Waiting;
                // The selection pass of stratified subsets comes before any sample is explained.
                if (s.Stage != lastStage && s.Stage is not null) Console.WriteLine($"stage: {s.Stage}");
                lastStage = s.Stage;
                var percent = s.SamplesTotal == 0 ? 0 : (int)(100 * s.SamplesDone / s.SamplesTotal) / 10 * 10;
                if (percent == lastShown || !JobRunner.IsRunning(s.State)) return;
                lastShown = percent;
                Console.WriteLine($"{percent,3}% ({s.ShardsDone}/{s.ShardsTotal} shards{Rate(s)})");
            }, ct);
        }
        JobStatus final = status;
        await AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(status.Name);
                final = await JobRunner.FollowAsync(grains, jobId, status, s =>
                {
                    task.MaxValue = Math.Max(1, s.SamplesTotal);
                    task.Value = s.SamplesDone;
                    task.Description = s.Waiting is { } waiting ? $"{s.Name}: waiting: {waiting}"
                        : s.Stage is { } stage ? $"{s.Name}: {stage}"
                        : $"{s.Name} {s.ShardsDone}/{s.ShardsTotal} shards{Rate(s, withTimeLeft: false)}{(s.State == JobState.Finalizing ? " (report)" : "")}";
                }, ct);
            });
        return final;
    }
}
