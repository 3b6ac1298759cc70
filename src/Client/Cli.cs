using System.CommandLine;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Storage;
using Spectre.Console;

namespace ExplainCluster.Client;

/// <summary>The <c>explain</c> command line: run, demo, report.</summary>
public static class Cli
{
    public static RootCommand Build()
    {
        var jobFile = new Argument<string>("job") { Description = "the job file (JSON)" };
        var outOption = new Option<string?>("--out") { Description = "output location (overrides the job's \"output\")" };
        var run = new Command("run", "run a job on an embedded cluster") { jobFile, outOption };
        run.SetAction((result, ct) => RunAsync(result.GetValue(jobFile)!, result.GetValue(outOption), ct));

        var demoOut = new Option<string?>("--out") { Description = "output folder (default: ./explain-demo)" };
        var demo = new Command("demo", "explain the bundled Fashion-MNIST sample end to end") { demoOut };
        demo.SetAction((result, ct) => RunAsync(
            Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist", "job.json"),
            result.GetValue(demoOut) ?? "explain-demo", ct));

        var outputArg = new Argument<string>("output") { Description = "a job's output location" };
        var report = new Command("report", "render the report again from a job's outputs") { outputArg };
        report.SetAction((result, ct) => ReportAsync(result.GetValue(outputArg)!, ct));

        return new RootCommand("ExplainCluster: explain a neural network over a whole dataset") { run, demo, report };
    }

    private static async Task<int> RunAsync(string jobPath, string? output, CancellationToken ct)
    {
        try
        {
            var job = JobFile.Load(jobPath, output);
            await using var cluster = await EmbeddedCluster.StartAsync();
            var status = await WithProgressAsync(cluster.Grains, job, ct);
            if (status.State != JobState.Completed) return Fail(status.Error ?? "the job did not complete");
            var reportPath = BlobLocator.IsRemote(job.Output) ? $"{job.Output.TrimEnd('/')}/{OutputLayout.Report}" : Path.Combine(job.Output, OutputLayout.Report);
            Console.WriteLine($"completed: {status.SamplesDone} samples in {status.ShardsTotal} shards");
            Console.WriteLine($"report: {reportPath}");
            return 0;
        }
        catch (Exception e) when (e is ExplainException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            return Fail(e.Message);
        }
    }

    private static async Task<JobStatus> WithProgressAsync(IGrainFactory grains, JobSpec job, CancellationToken ct)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var lastShown = -1;
            return await JobRunner.RunAsync(grains, job, s =>
            {
                var percent = s.SamplesTotal == 0 ? 0 : (int)(100 * s.SamplesDone / s.SamplesTotal) / 10 * 10;
                if (percent == lastShown || s.State == JobState.Failed) return;
                lastShown = percent;
                Console.WriteLine($"{percent,3}% ({s.ShardsDone}/{s.ShardsTotal} shards)");
            }, ct: ct);
        }
        JobStatus? final = null;
        await AnsiConsole.Progress().AutoClear(false).StartAsync(async context =>
        {
            var task = context.AddTask(job.Name);
            final = await JobRunner.RunAsync(grains, job, s =>
            {
                task.MaxValue = Math.Max(1, s.SamplesTotal);
                task.Value = s.SamplesDone;
                task.Description = $"{job.Name} {s.ShardsDone}/{s.ShardsTotal} shards {(s.State == JobState.Finalizing ? "(report)" : "")}";
            }, ct: ct);
        });
        return final!;
    }

    private static async Task<int> ReportAsync(string output, CancellationToken ct)
    {
        try
        {
            var locator = new BlobLocator(Environment.GetEnvironmentVariable("Storage__ConnectionString"));
            var location = BlobLocator.Absolute(output, Environment.CurrentDirectory);
            await new ReportWriter(locator).WriteAsync(location, ct);
            Console.WriteLine($"report: {(BlobLocator.IsRemote(location) ? location.TrimEnd('/') + "/" + OutputLayout.Report : Path.Combine(location, OutputLayout.Report))}");
            return 0;
        }
        catch (ExplainException e)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 1;
    }
}
