using System.CommandLine;
using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.History;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Client;

/// <summary>
/// The <c>explain</c> command line. Embedded (no services): run, demo, report. Against a running cluster
/// (Orleans client, Redis membership): submit, status, watch, cancel.
/// </summary>
public static class Cli
{
    /// <summary>
    /// Exit codes (the README's table): a job completed (or a command did what it said), failed, a command line the
    /// parser refused, a job cancelled, a completed job (or <c>compare</c>) whose comparison crossed a drift threshold;
    /// 130 and 143 (<see cref="Interrupts"/>) for a command stopped by Ctrl-C or SIGTERM.
    /// </summary>
    public const int Completed = 0, Failed = 1, Usage = 2, Cancelled = 3, Drifted = 4;

    /// <summary>Parses and runs a command line; returns its exit code.</summary>
    public static async Task<int> InvokeAsync(string[] args)
    {
        var parsed = Build().Parse(args);
        // Signals are the commands' own (Interrupts): the parser's handler would cancel the token and return 130 after
        // 2 s, whatever the command still had to stop.
        var exit = await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
        return parsed.Errors.Count > 0 ? Usage : exit;
    }

    public static RootCommand Build()
    {
        var verbose = new Option<bool>("--verbose") { Description = "show every log line, with exception details", Recursive = true };

        var jobFile = new Argument<string>("job") { Description = "the job file (JSON)" };
        var outOption = new Option<string?>("--out") { Description = "output location (overrides the job's \"output\")" };
        var pdf = new Option<bool>("--pdf") { Description = "also print the report to report.pdf beside report.html (needs Chromium)" };
        var run = new Command("run", "run a job on an embedded cluster") { jobFile, outOption, pdf };
        run.SetAction((result, _) => RunAsync(result.GetValue(jobFile)!, result.GetValue(outOption), result.GetValue(verbose), pdf: result.GetValue(pdf)));

        var demoOut = new Option<string?>("--out") { Description = "output folder (default: ./explain-demo, or ./explain-demo-tabular)" };
        var tabular = new Option<bool>("--tabular") { Description = "explain the bundled credit table (4,454 applicants) instead of Fashion-MNIST" };
        var demo = new Command("demo", "explain a bundled sample end to end: Fashion-MNIST images, or with --tabular a credit table") { demoOut, tabular, pdf };
        demo.SetAction((result, _) =>
        {
            var table = result.GetValue(tabular);
            return RunAsync(
                Path.Combine(AppContext.BaseDirectory, "samples", table ? "credit" : "fashion-mnist", "job.json"),
                result.GetValue(demoOut) ?? (table ? "explain-demo-tabular" : "explain-demo"), result.GetValue(verbose), overwrite: true,
                pdf: result.GetValue(pdf));
        });

        var outputArg = new Argument<string>("output") { Description = "a job's output location" };
        var report = new Command("report", "render the report again from a job's outputs") { outputArg, pdf };
        report.SetAction((result, ct) => ReportAsync(result.GetValue(outputArg)!, result.GetValue(pdf), ct));

        var baselineArg = new Argument<string>("baseline") { Description = "the earlier run's output (A)" };
        var candidateArg = new Argument<string>("candidate") { Description = "the later run's output (B)" };
        var compareOut = new Option<string?>("--out") { Description = "where comparison.json and compare.html go (default: CANDIDATE/compare)" };
        var failOption = new Option<string?>("--fail") { Description = "drift thresholds as JSON, e.g. '{\"accuracyDrop\": 0.01, \"ndcg\": 0.9}': exit 4 when one is crossed" };
        var compare = new Command("compare", "what changed from one run to another: predictions and, on the same inputs, explanations") { baselineArg, candidateArg, compareOut, failOption };
        compare.SetAction((r, ct) => CompareAsync(r.GetValue(baselineArg)!, r.GetValue(candidateArg)!, r.GetValue(compareOut), r.GetValue(failOption), ct));

        var cluster = new Option<string?>("--cluster") { Description = "the cluster's Redis connection string (default: environment Cluster__Redis)" };
        var clusterId = new Option<string?>("--cluster-id") { Description = "the cluster id (default: explaincluster)" };
        var idOption = new Option<string?>("--id") { Description = "the job id; submitting the same id again is the same job" };
        var submitOut = new Option<string?>("--out") { Description = "output location (overrides the job's \"output\"); the silos must reach it" };
        var follow = new Option<bool>("--watch") { Description = "then follow it as watch does (exit 0 completed, 1 failed, 3 cancelled, 4 drift)" };
        var submit = new Command("submit", "submit a job to a running cluster; prints its id last") { jobFile, cluster, clusterId, idOption, submitOut, follow };
        submit.SetAction((r, _) => WithClusterAsync(r.GetValue(cluster), r.GetValue(clusterId), r.GetValue(verbose),
            async (grains, interrupts) =>
            {
                var (exit, id) = await SubmitAsync(grains, r.GetValue(jobFile)!, r.GetValue(idOption), r.GetValue(submitOut), interrupts);
                return exit != Completed || !r.GetValue(follow) ? exit : await WatchAsync(grains, id!, interrupts);
            }));

        var jobId = new Argument<string>("id") { Description = "the job id that submit printed" };
        var json = new Option<bool>("--json") { Description = "one JSON object, for scripts" };
        var status = new Command("status", "a job's state and progress") { jobId, cluster, clusterId, json };
        status.SetAction((r, _) => WithClusterAsync(r.GetValue(cluster), r.GetValue(clusterId), r.GetValue(verbose),
            (grains, interrupts) => StatusAsync(grains, r.GetValue(jobId)!, r.GetValue(json), interrupts.Token)));

        var watch = new Command("watch", "follow a job until it ends: exit 0 completed, 1 failed, 3 cancelled; Ctrl-C stops watching, not the job") { jobId, cluster, clusterId };
        watch.SetAction((r, _) => WithClusterAsync(r.GetValue(cluster), r.GetValue(clusterId), r.GetValue(verbose),
            (grains, interrupts) => WatchAsync(grains, r.GetValue(jobId)!, interrupts)));

        var cancel = new Command("cancel", "stop a job: no new shards start, running ones stop at their next batch") { jobId, cluster, clusterId };
        cancel.SetAction((r, _) => WithClusterAsync(r.GetValue(cluster), r.GetValue(clusterId), r.GetValue(verbose),
            (grains, interrupts) => CancelAsync(grains, r.GetValue(jobId)!, interrupts.Token)));

        return new RootCommand("ExplainCluster: explain a neural network over a whole dataset")
        {
            verbose, run, demo, report, compare, submit, status, watch, cancel,
        };
    }

    /// <summary>
    /// Runs a job on an embedded cluster and follows it. The first Ctrl-C or SIGTERM cancels the job as <c>explain cancel</c>
    /// does (<see cref="StopAsync"/>); a second ends the process at once, and the next run takes the output over.
    /// </summary>
    /// <param name="overwrite">Replace a completed job's output (the demo's own folder) whatever the job file says.</param>
    /// <param name="pdf">Print the completed job's report to report.pdf too.</param>
    private static async Task<int> RunAsync(string jobPath, string? output, bool verbose, bool overwrite = false, bool pdf = false)
    {
        using var interrupts = new Interrupts();
        try
        {
            var job = JobFile.Load(jobPath, output);
            if (overwrite) job = job with { Overwrite = true };
            // The embedded run reads what its job file names, wherever it is (a dataset under /data, a mounted share): it
            // is the user's own process. Storage:LocalRoots still binds it where the environment sets them.
            await using var cluster = await EmbeddedCluster.StartAsync(verbose: verbose);
            if (interrupts.Interrupted) return Interrupted(interrupts, "before the job started; nothing was written");
            var jobId = JobRunner.NewId(job);
            var status = await cluster.Grains.GetGrain<IJobGrain>(jobId).StartAsync(job);
            try { status = await Progress.FollowAsync(cluster.Grains, jobId, status, interrupts.Token); }
            catch (OperationCanceledException) when (interrupts.Interrupted) { return await StopAsync(cluster.Grains, jobId, interrupts); }
            var outcome = Outcome(status);
            if (pdf && outcome == Completed) await PrintAsync(status.Output, interrupts.Token);
            return outcome;
        }
        catch (Exception e) when (e is ExplainException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            return Fail(e.Message);
        }
    }

    /// <summary>
    /// After the first interrupt of run or demo: cancels the job (no new shards, running ones stop at their next batch,
    /// staging removed, manifest.json cancelled) and says so in one line. A job already writing its outputs finishes.
    /// </summary>
    private static async Task<int> StopAsync(IGrainFactory grains, string jobId, Interrupts interrupts)
    {
        var status = await grains.GetGrain<IJobGrain>(jobId).CancelAsync();
        if (status.State == JobState.Finalizing) status = await JobRunner.FollowAsync(grains, jobId, status);
        if (status.State != JobState.Cancelled) return Outcome(status);
        Console.Error.WriteLine($"cancelled by {interrupts.Name} after {status.ShardsDone} of {status.ShardsTotal} shards; staging removed, manifest.json says cancelled");
        return interrupts.ExitCode;
    }

    /// <summary>A command stopped by an interrupt: one line saying where it stood (<paramref name="when"/>), exit 130 or 143.</summary>
    private static int Interrupted(Interrupts interrupts, string? when = null)
    {
        Console.Error.WriteLine(when is null ? $"interrupted by {interrupts.Name}" : $"interrupted by {interrupts.Name} {when}");
        return interrupts.ExitCode;
    }

    /// <summary>Connects to the cluster and runs <paramref name="command"/>; an interrupt the command left to this stops it with one line.</summary>
    private static async Task<int> WithClusterAsync(string? redis, string? clusterId, bool verbose, Func<IGrainFactory, Interrupts, Task<int>> command)
    {
        using var interrupts = new Interrupts();
        try
        {
            await using var cluster = await RemoteCluster.ConnectAsync(redis, clusterId, verbose, interrupts.Token);
            return await command(cluster.Grains, interrupts);
        }
        catch (OperationCanceledException) when (interrupts.Interrupted)
        {
            return Interrupted(interrupts);
        }
        catch (ExplainException e)
        {
            return Fail(e.Message);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            return Fail($"the cluster did not answer: {e.Message.Split('\n')[0]}");
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(e.Message.Split('\n')[0]);
        }
    }

    /// <summary>
    /// Submits a job. Never half: an interrupt before the job is sent submits nothing; once it is sent, the submission
    /// completes (its id printed last, as always) and the line on stderr says how to stop the job.
    /// </summary>
    private static async Task<(int Exit, string? Id)> SubmitAsync(IGrainFactory grains, string jobPath, string? id, string? output, Interrupts interrupts)
    {
        var job = JobFile.Load(jobPath, output);
        id ??= JobRunner.NewId(job);
        if (id.Length == 0 || id.Length > 200 || id.Any(c => char.IsControl(c) || c == '/'))
            throw new ExplainException($"--id must be 1 to 200 characters without '/' or control characters");
        if (interrupts.Interrupted) return (Interrupted(interrupts, "before the job was sent; nothing was submitted"), null);
        var status = await JobRunner.CallAsync(() => grains.GetGrain<IJobGrain>(id).StartAsync(job));
        if (status.State == JobState.Failed) return (Fail(status.Error ?? "the job failed"), null);
        Console.WriteLine($"submitted: {status.ShardsTotal} shards, {status.SamplesTotal} samples");
        Console.WriteLine(id);
        if (!interrupts.Interrupted) return (Completed, id);
        return (Interrupted(interrupts, $"after the job was sent: job {id} runs in the cluster; explain cancel {id} stops it"), null);
    }

    /// <summary>The job's status; an <see cref="ExplainException"/> if the cluster has no job with this id.</summary>
    private static async Task<JobStatus> FindAsync(IGrainFactory grains, string id, CancellationToken ct)
    {
        var status = await JobRunner.CallAsync(() => grains.GetGrain<IJobGrain>(id).GetStatusAsync(), ct);
        return status.State == JobState.NotStarted ? throw new ExplainException($"no job {id} on this cluster") : status;
    }

    private static async Task<int> StatusAsync(IGrainFactory grains, string id, bool json, CancellationToken ct)
    {
        var status = await FindAsync(grains, id, ct);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                id, name = status.Name, state = StateName(status.State), status.ShardsDone, status.ShardsTotal, status.SamplesDone,
                status.SamplesTotal, status.Attempts, status.Error, status.Waiting, status.Stage, status.Output, silos = status.ShardsPerSilo.Keys.Order(StringComparer.Ordinal).ToArray(),
            }, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            return Completed;
        }
        Console.WriteLine($"{id}: {StateName(status.State)}");
        Console.WriteLine($"shards: {status.ShardsDone}/{status.ShardsTotal} ({status.Attempts} attempts)");
        Console.WriteLine($"samples: {status.SamplesDone}/{status.SamplesTotal}");
        Console.WriteLine($"silos: {string.Join(", ", status.ShardsPerSilo.Keys.Order(StringComparer.Ordinal))}");
        Console.WriteLine($"output: {status.Output}");
        if (status.Error is not null) Console.WriteLine($"error: {status.Error}");
        if (status.Waiting is not null) Console.WriteLine($"waiting: {status.Waiting}");
        if (status.Stage is not null) Console.WriteLine($"stage: {status.Stage}");
        return Completed;
    }

    /// <summary>Follows a job to its end; an interrupt stops the watching only, and says how to stop the job.</summary>
    private static async Task<int> WatchAsync(IGrainFactory grains, string id, Interrupts interrupts)
    {
        var status = await FindAsync(grains, id, interrupts.Token);
        try { return Outcome(await Progress.FollowAsync(grains, id, status, interrupts.Token)); }
        catch (OperationCanceledException) when (interrupts.Interrupted)
        {
            Console.Error.WriteLine($"stopped watching: job {id} goes on in the cluster; explain cancel {id} stops it");
            return interrupts.ExitCode;
        }
    }

    private static async Task<int> CancelAsync(IGrainFactory grains, string id, CancellationToken ct)
    {
        var status = await FindAsync(grains, id, ct);
        if (status.State is JobState.Completed or JobState.Failed) return Fail($"job {id} had already ended ({StateName(status.State)})");
        status = await JobRunner.CallAsync(() => grains.GetGrain<IJobGrain>(id).CancelAsync());
        Console.WriteLine($"{id}: {StateName(status.State)}");
        return status.State == JobState.Cancelled ? Completed : Fail($"job {id} had already ended ({StateName(status.State)})");
    }

    /// <summary>What run, demo and watch print when the job ends, and their exit code.</summary>
    private static int Outcome(JobStatus status)
    {
        switch (status.State)
        {
            case JobState.Completed:
                var reportPath = BlobLocator.IsRemote(status.Output) ? $"{status.Output.TrimEnd('/')}/{OutputLayout.Report}" : Path.Combine(status.Output, OutputLayout.Report);
                Console.WriteLine($"completed: {status.SamplesDone} samples in {status.ShardsTotal} shards");
                Console.WriteLine($"report: {reportPath}");
                if (status.Drift is not { Length: > 0 } drift) return Completed;
                foreach (var line in drift) Console.Error.WriteLine($"drift: {line}");
                return Drifted;
            case JobState.Cancelled:
                Console.Error.WriteLine("cancelled");
                return Cancelled;
            default:
                return Fail(status.Error ?? "the job did not complete");
        }
    }

    public static string StateName(JobState state) => state switch
    {
        JobState.NotStarted => "unknown",
        JobState.Running => "running",
        JobState.Finalizing => "finalizing",
        JobState.Completed => Manifest.Completed,
        JobState.Failed => Manifest.Failed,
        _ => Manifest.Cancelled,
    };

    private static async Task<int> ReportAsync(string output, bool pdf, CancellationToken ct)
    {
        try
        {
            var location = BlobLocator.Absolute(output, Environment.CurrentDirectory);
            await new ReportWriter(Locator()).WriteAsync(location, ct);
            Console.WriteLine($"report: {(BlobLocator.IsRemote(location) ? location.TrimEnd('/') + "/" + OutputLayout.Report : Path.Combine(location, OutputLayout.Report))}");
            if (pdf) await PrintAsync(location, ct);
            return 0;
        }
        catch (ExplainException e)
        {
            return Fail(e.Message);
        }
    }

    /// <summary>report.pdf beside the report at <paramref name="output"/>; prints where it went.</summary>
    private static async Task PrintAsync(string output, CancellationToken ct) =>
        Console.WriteLine($"pdf: {Redaction.Text(await new ReportPdf(Locator()).WriteAsync(output, ct))}");

    /// <summary>Where outputs are read and written: local folders, and blob storage with the environment's Storage__ConnectionString.</summary>
    private static BlobLocator Locator() => new(Environment.GetEnvironmentVariable("Storage__ConnectionString"));

    private static async Task<int> CompareAsync(string baseline, string candidate, string? output, string? fail, CancellationToken ct)
    {
        try
        {
            CompareGate? gate = null;
            if (fail is not null)
            {
                using var json = Engine.Options.JsonText.Parse(fail, "--fail");
                gate = JobFile.ParseGate(json.RootElement, "--fail");
            }
            var locator = new BlobLocator(Environment.GetEnvironmentVariable("Storage__ConnectionString"));
            var (a, b) = (BlobLocator.Absolute(baseline, Environment.CurrentDirectory), BlobLocator.Absolute(candidate, Environment.CurrentDirectory));
            var folder = output is null ? locator.Resolve(b).Child(Engine.Compare.ComparisonOutput.JobFolder) : locator.Resolve(BlobLocator.Absolute(output, Environment.CurrentDirectory));
            // Both models run here, on threads of their own, for the representation's CKA.
            using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, locator);
            var comparison = await new Engine.Compare.Comparer(locator, host).WriteAsync(folder, a, b, gate, ct: ct);
            foreach (var finding in comparison.Findings) Console.WriteLine(finding);
            Console.WriteLine($"comparison: {folder.Child(Engine.Compare.ComparisonOutput.Html).Location}");
            if (comparison.Drift.Length == 0) return Completed;
            foreach (var line in comparison.Drift) Console.Error.WriteLine($"drift: {line}");
            return Drifted;
        }
        catch (ExplainException e)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return Failed;
    }
}
