using ExplainCluster.Contracts;
using ExplainCluster.Engine.ErrorTree;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Grains;
using ExplainCluster.Grains.Passes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// A job's passes as its grain drives them, without a cluster: the record says which pass the job is in at every step
/// (select → explain → post → finalizing), and a record written mid-pass and read back (through the Orleans serializer,
/// as grain storage keeps it) resumes that same pass with what it had merged.
/// </summary>
public sealed class JobPassesTests : IDisposable
{
    private static readonly ShardSpec[] Shards = [new(0, 0, 10), new(1, 10, 10)];

    private readonly string _output = Path.Combine(Path.GetTempPath(), $"passes-{Guid.NewGuid():N}");
    private readonly BlobLocator _locator = new(null);

    public void Dispose()
    {
        if (Directory.Exists(_output)) Directory.Delete(_output, recursive: true);
    }

    [Fact]
    public async Task Passes_SubsetsAndPostView_RecordSelectExplainPostThenFinalizing()
    {
        var job = new JobContext(NewRecord(Job(subset: true, post: true)), _locator);

        var pass = await job.BeginAsync();
        Assert.Equal((JobPass.Select, JobPass.Select), (pass.Kind, job.Record.Pass));
        Assert.Equal("choosing the samples of stratified subsets (a forward pass): 0 of 2 shards", job.Record.Status(pass, noWorker: false).Stage);
        await FinishAsync(job, pass);
        Assert.Null(job.Record.Chosen);

        pass = (await job.AdvanceAsync(pass))!;
        Assert.Equal((JobPass.Explain, JobPass.Explain), (pass.Kind, job.Record.Pass));
        Assert.Null(job.Record.Candidates);
        Assert.Equal([[2L, 13L]], job.Record.Chosen!); // each stratum's smallest key over both shards, by dataset index
        Assert.Equal([[2L]], ((ExplainPass)pass).Request("j", Shards[0], 1).Chosen!);
        Assert.Equal("j/0/1", pass.ShardKey("j", 0, 1));
        await FinishAsync(job, pass);

        pass = (await job.AdvanceAsync(pass))!;
        Assert.Equal((JobPass.Post, JobPass.Post, JobState.Running), (pass.Kind, job.Record.Pass, job.Record.State));
        Assert.Equal("j/post/1/1", pass.ShardKey("j", 1, 1));
        Assert.Single(pass.Request("j", Shards[0], 1).Post!.Objectives); // one class, dealt to shard 0
        await FinishAsync(job, pass);

        Assert.Null(await job.AdvanceAsync(pass));
        Assert.Equal((JobPass.Post, JobState.Finalizing), (job.Record.Pass, job.Record.State));
        Assert.Equal([JobPass.Select, JobPass.Explain, JobPass.Post], job.Record.Books.Keys.Order());
        Assert.All(job.Record.Books.Values, book => Assert.True(book.Complete));
    }

    [Fact]
    public async Task Passes_NoSubsetsNoPostWork_SkipSelectAndPost()
    {
        var job = new JobContext(NewRecord(Job(subset: false, post: false)), _locator);
        var pass = await job.BeginAsync();
        Assert.Equal(JobPass.Explain, job.Record.Pass);
        await FinishAsync(job, pass);
        Assert.Null(await job.AdvanceAsync(pass));
        Assert.Equal(JobState.Finalizing, job.Record.State);
        Assert.Equal([JobPass.Explain], job.Record.Books.Keys);
    }

    [Fact]
    public async Task Resume_RecordReloadedMidPass_ResumesThatPassWithWhatItMerged()
    {
        var job = new JobContext(NewRecord(Job(subset: true, post: true)), _locator);
        var pass = await job.BeginAsync();
        await AcceptAsync(job, pass, 0);

        // Mid-selection: the candidates are in the record.
        var (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(Reload(job.Record), _locator));
        Assert.Equal((JobPass.Select, false), (resumed.Kind, redo));
        Assert.Equal((1, 0, 2), (job.Record.Book.DoneCount, job.Record.Book.AttemptsOf(1), job.Record.Candidates!.Single().Length));
        await AcceptAsync(job, resumed, 1);
        pass = (await job.AdvanceAsync(resumed))!;
        Assert.Equal([[2L, 13L]], job.Record.Chosen!);

        // Mid-explanation: the accepted partial is read back from its staging and folded again.
        await AcceptAsync(job, pass, 0);
        (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(Reload(job.Record), _locator));
        Assert.Equal((JobPass.Explain, false, 1), (resumed.Kind, redo, job.Summary.Folded));
        await AcceptAsync(job, resumed, 1);
        pass = (await job.AdvanceAsync(resumed))!;
        Assert.Equal(JobPass.Post, pass.Kind);

        // Mid-post: planned again from the merged explanations; its finished shard runs again, its attempts numbered on.
        await AcceptAsync(job, pass, 0);
        (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(Reload(job.Record), _locator));
        Assert.Equal((JobPass.Post, true), (resumed.Kind, redo));
        Assert.Equal((0, 1), (job.Record.Book.DoneCount, job.Record.Book.AttemptsOf(0)));
        Assert.Equal([0, 1], job.Record.Book.Waiting());
        Assert.Equal(2, job.Record.Book.NewAttempt(0));
        Assert.Single(resumed.Request("j", Shards[0], 2).Post!.Objectives);
    }

    /// <summary>
    /// A shard's record and the job's record are two writes: a job lost between them comes back with a shard recorded
    /// done whose candidates its record lacks (that shard runs again and is merged), or with candidates of a shard that
    /// is not recorded done (it runs again and is not merged twice). Either way the choice is a fault-free run's.
    /// </summary>
    [Fact]
    public async Task Resume_SelectionLostBetweenItsTwoWrites_RunsAgainWhatTheRecordLacksAndChoosesAsWithoutLoss()
    {
        var job = new JobContext(NewRecord(Job(subset: true, post: true)), _locator);
        var pass = await job.BeginAsync();
        await AcceptAsync(job, pass, 0);
        using var services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(JobRecord).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var before = serializer.SerializeToArray(job.Record);
        await AcceptAsync(job, pass, 1);

        // Shard 1's record was written, the job's record (its candidates) was not.
        var lost = serializer.Deserialize<JobRecord>(before)!;
        lost.Books[JobPass.Select] = new ShardBook(serializer.Deserialize<ShardRecord[]>(serializer.SerializeToArray(job.Record.Book.Records))!);
        var (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(lost, _locator));
        Assert.Equal((JobPass.Select, false), (resumed.Kind, redo));
        Assert.Equal([1], job.Record.Book.Waiting());
        Assert.Equal(1, job.Record.Book.DoneCount);
        await AcceptAsync(job, resumed, 1);
        Assert.Equal(2, job.Record.Book.AttemptsOf(1));

        // Now the other way: the record holds both shards' candidates, shard 1's record is back to running.
        var record = Reload(job.Record);
        record.Books[JobPass.Select].Reopen([1]);
        (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(record, _locator));
        var kept = job.Record.Candidates!.Single().ToArray();
        await AcceptAsync(job, resumed, 1);
        Assert.Equal(kept, job.Record.Candidates!.Single());
        await job.AdvanceAsync(resumed);
        Assert.Equal([[2L, 13L]], job.Record.Chosen!);
        Assert.Null(job.Record.CandidatesFrom);
    }

    /// <summary>
    /// A concepts block adds one unit of work between the selection and the explanations: its accepted attempt (here the second,
    /// the first having failed) is what every explain request names, before and after the record is reloaded.
    /// </summary>
    [Fact]
    public async Task Passes_Concepts_TrainOnceBeforeTheExplanationsWhichReadTheAcceptedAttempt()
    {
        var spec = Job(subset: true, post: false);
        spec = JobFile.Parse(spec.SourceJson.Replace("\"shardSize\"", """
            "concepts": { "layer": "1", "sets": { "striped": "striped.npy" }, "random": "random.npy" }, "shardSize"
            """, StringComparison.Ordinal), _output);
        var job = new JobContext(NewRecord(spec), _locator);
        var pass = await job.BeginAsync();
        await FinishAsync(job, pass);

        pass = (await job.AdvanceAsync(pass))!;
        Assert.Equal((JobPass.Concepts, JobPass.Concepts), (pass.Kind, job.Record.Pass));
        Assert.Equal([new ShardSpec(0, 0, 0)], job.Record.Book.Shards);
        Assert.Equal("j/concepts/0/1", pass.ShardKey("j", 0, 1));
        Assert.Equal(ShardPhase.Concepts, pass.Request("j", job.Record.Book.Shards[0], 1).Phase);
        var status = job.Record.Status(pass, noWorker: false);
        Assert.Equal(("training the concept activation vectors (TCAV)", 2, 20L), (status.Stage, status.ShardsTotal, status.SamplesTotal));
        Assert.Equal(1, job.Record.Book.NewAttempt(0)); // the first attempt fails; the second is accepted
        await AcceptAsync(job, pass, 0);
        Assert.Equal(2, ConceptsPass.Accepted(job.Record));

        pass = (await job.AdvanceAsync(pass))!;
        Assert.Equal(JobPass.Explain, pass.Kind);
        Assert.Equal(2, pass.Request("j", Shards[1], 1).ConceptsAttempt);
        await AcceptAsync(job, pass, 0);
        var (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(Reload(job.Record), _locator));
        Assert.Equal((JobPass.Explain, false), (resumed.Kind, redo));
        Assert.Equal(2, resumed.Request("j", Shards[1], 1).ConceptsAttempt);
        Assert.Equal([JobPass.Select, JobPass.Explain, JobPass.Concepts], job.Record.Books.Keys.Order());
    }

    /// <summary>
    /// A table job's error tree: after the explanations, the tree pass runs once per level (depth 2: levels 0, 1 and the leaves' 2),
    /// each level's attempts numbered on from the last (keys <c>j/tree/L/s/a</c>). Lost mid-level, the job comes back with the
    /// finished levels in its record: only the level in progress runs again, and the tree is a fault-free run's, byte for byte.
    /// </summary>
    [Fact]
    public async Task Passes_ErrorTree_OneRunPerLevelAndResumedMidTreeKeepsTheFinishedLevels()
    {
        var table = Engine.ErrorTreeTests.Table20();
        async Task<(JobContext Job, IJobPass Pass)> ExplainedAsync()
        {
            var job = new JobContext(NewRecord(TableJob()), _locator);
            var pass = await job.BeginAsync();
            foreach (var shard in Shards) await AcceptAsync(job, pass, shard.Index, table);
            return (job, (await job.AdvanceAsync(pass))!);
        }

        // Fault-free: three runs of the pass, then the job finalizes (no post work).
        var (job, pass) = await ExplainedAsync();
        for (var level = 0; level < 3; level++)
        {
            Assert.Equal((JobPass.Tree, JobPass.Tree, JobState.Running), (pass.Kind, job.Record.Pass, job.Record.State));
            Assert.Equal($"error tree, level {level + 1} of 3: 0 of 2 shards", job.Record.Status(pass, noWorker: false).Stage);
            var request = pass.Request("j", Shards[1], level + 1);
            Assert.Equal((ShardPhase.Tree, 1, level), (request.Phase, request.ExplainAttempt, ErrorTreeGrowth.Decode(request.Tree!).Level));
            Assert.Equal($"j/tree/{level}/1/{level + 1}", pass.ShardKey("j", 1, level + 1));
            foreach (var shard in Shards) await AcceptAsync(job, pass, shard.Index, table);
            Assert.Equal(level + 1, job.Record.Book.AttemptsOf(0));
            pass = (await job.AdvanceAsync(pass))!;
        }
        Assert.Null(pass);
        Assert.Equal(JobState.Finalizing, job.Record.State);
        Assert.Equal([JobPass.Explain, JobPass.Tree], job.Record.Books.Keys.Order());
        var faultFree = job.Record.Tree!;
        var grown = ErrorTreeGrowth.Decode(faultFree);
        Assert.True(grown.Done && grown.Nodes[0].Split is not null && grown.Nodes.Count > 3, $"{grown.Nodes.Count} nodes");
        Assert.Equal(faultFree, job.Summary.Sums<ErrorTreeFeature.Sums>()!.Grown!.Encode());

        // Lost in level 1 with one shard counted: level 0's split is in the record; level 1 runs again from its first shard.
        (job, pass) = await ExplainedAsync();
        foreach (var shard in Shards) await AcceptAsync(job, pass, shard.Index, table);
        pass = (await job.AdvanceAsync(pass))!;
        await AcceptAsync(job, pass, 0, table);
        var (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(Reload(job.Record), _locator));
        Assert.Equal((JobPass.Tree, true), (resumed.Kind, redo));
        var tree = ErrorTreeGrowth.Decode(job.Record.Tree!);
        Assert.Equal((1, true), (tree.Level, tree.Nodes[0].Counted));
        Assert.Equal([0, 1], job.Record.Book.Waiting());
        Assert.Equal((2, 1), (job.Record.Book.AttemptsOf(0), job.Record.Book.AttemptsOf(1)));
        Assert.Equal("j/tree/1/0/3", resumed.ShardKey("j", 0, 3));
        pass = resumed;
        while (pass is not null)
        {
            foreach (var shard in Shards) await AcceptAsync(job, pass, shard.Index, table);
            pass = await job.AdvanceAsync(pass);
        }
        Assert.Equal(faultFree, job.Record.Tree);

        // Lost after the shards' records of level 1 were written and before the job's own: the record is level 0's, the book has a
        // level 1 attempt running. Its counts are of another level: the shard goes round again, and the tree is still the same.
        (job, pass) = await ExplainedAsync();
        foreach (var shard in Shards) await AcceptAsync(job, pass, shard.Index, table);
        var levelZero = Reload(job.Record);
        var levelOne = (await job.AdvanceAsync(pass))!;
        var running = job.Record.Book.NewAttempt(0);
        var staleCounts = TreeCounts(levelOne.Request("j", Shards[0], running), table, 0);
        levelZero.Books[JobPass.Tree] = Reload(job.Record).Books[JobPass.Tree];
        (resumed, redo) = await JobPasses.ResumeAsync(job = new JobContext(levelZero, _locator));
        Assert.Equal((JobPass.Tree, 0), (resumed.Kind, ErrorTreeGrowth.Decode(job.Record.Tree!).Level));
        Assert.Equal([1], job.Record.Book.Waiting());
        Assert.True(job.Record.Book.Accept(0, running, "silo", 1));
        Assert.Null(((IJobPass<TreeLevelPartial>)resumed).Merge(new TreeLevelPartial(0, running, "silo", 1, staleCounts)));
        Assert.Equal([0, 1], job.Record.Book.Waiting());
        pass = resumed;
        while (pass is not null)
        {
            foreach (var shard in Shards) await AcceptAsync(job, pass, shard.Index, table);
            pass = await job.AdvanceAsync(pass);
        }
        Assert.Equal(faultFree, job.Record.Tree);

        // Lost after the tree, in a later pass: the tree pass has nothing to run again, and the summary has the tree.
        var after = new JobContext(Reload(job.Record), _locator);
        after.Record.Pass = JobPass.Tree;
        (resumed, redo) = await JobPasses.ResumeAsync(after);
        Assert.False(redo);
        Assert.Equal(faultFree, after.Summary.Sums<ErrorTreeFeature.Sums>()!.Grown!.Encode());
    }

    private JobSpec TableJob() => JobFile.Parse($$"""
        {
          "model": { "uri": "model.pt", "classes": ["a", "b"] },
          "data": { "table": "t.csv", "features": [ { "name": "x", "type": "numeric" } ], "label": "label" },
          "methods": { "saliency": {} },
          "errorTree": { "depth": 2, "minLeaf": 1 },
          "shardSize": 10,
          "output": "{{_output}}"
        }
        """, _output);

    private JobRecord NewRecord(JobSpec spec) => new() { Job = spec, State = JobState.Running, Samples = Shards.Sum(s => s.Count) };

    private JobSpec Job(bool subset, bool post) => JobFile.Parse($$"""
        {
          "model": { "uri": "model.pt" },
          "data": { "inputs": "images.npy" },
          "methods": { "saliency": { {{(subset ? "\"subset\": { \"perClass\": 1, \"seed\": 1 }" : "")}} } },
          {{(post ? "\"views\": { \"maximisation\": { \"steps\": 10, \"channels\": 0 } }," : "")}}
          "shardSize": 10,
          "output": "{{_output}}"
        }
        """, _output);

    /// <summary>Every shard of the pass: a first attempt, accepted and merged.</summary>
    private static async Task FinishAsync(JobContext job, IJobPass pass)
    {
        foreach (var shard in Shards) await AcceptAsync(job, pass, shard.Index);
        Assert.True(job.Record.Book.Complete);
    }

    /// <summary>
    /// The shard's next attempt, accepted as the grain does, with a result of the pass's kind (an explain partial is staged too; with
    /// <paramref name="table"/>, its error-tree partial, and the tree pass's counts of the shard's rows of it).
    /// </summary>
    private static async Task AcceptAsync(JobContext job, IJobPass pass, int shard, Engine.ErrorTreeTable? table = null)
    {
        var attempt = job.Record.Book.NewAttempt(shard);
        Assert.True(job.Record.Book.Accept(shard, attempt, "silo", 1));
        var error = pass switch
        {
            IJobPass<SelectionPartial> select => select.Merge(new SelectionPartial(shard, attempt, "silo", 1,
                [[new StratumCandidate(0, (ulong)(10 - shard * 5), 3 + shard * 10), new StratumCandidate(1, (ulong)(5 + shard), 2 + shard * 10)]])),
            IJobPass<ShardPartial> explain => explain.Merge(await StagedAsync(job, new ShardPartial(shard, 10, "silo", 1, [10],
                [MethodsFeature.Instance.Pack([]), InputsFeature.Instance.Pack(new InputPartial([1], [10], [0])),
                 .. table is null ? Array.Empty<FeaturePartial>() : [ErrorTreeFeature.Instance.Pack(ErrorTreeFeature.Instance.Compute(table.Shard(shard * 10, 10).Outcome)!)]], attempt))),
            IJobPass<TreeLevelPartial> tree => tree.Merge(new TreeLevelPartial(shard, attempt, "silo", 1, TreeCounts(pass.Request("j", Shards[shard], attempt), table!, shard))),
            IJobPass<PostPartial> post => post.Merge(new PostPartial(shard, attempt, "silo", 1, null, [])),
            IJobPass<ConceptsTrained> concepts => concepts.Merge(new ConceptsTrained(shard, attempt, "silo", 1, 20)),
            _ => throw new InvalidOperationException(pass.Kind.ToString()),
        };
        Assert.Null(error);
    }

    /// <summary>What a tree attempt counts of the shard's rows with the tree its request carries.</summary>
    private static byte[] TreeCounts(ShardRequest request, Engine.ErrorTreeTable table, int shard)
    {
        var rows = table.Shard(shard * 10, 10);
        return ErrorTreeLevel.Compute(ErrorTreeGrowth.Decode(request.Tree!), Engine.ErrorTreeTable.Spec, rows.Outcome.Data, rows.Predictions, rows.Attributions);
    }

    private static async Task<ShardPartial> StagedAsync(JobContext job, ShardPartial partial)
    {
        var output = new BlobLocator(null).Resolve(job.Record.Job!.Output);
        await output.Child(OutputLayout.Partial(partial.ShardIndex, partial.Attempt)).WriteAsync(PartialCodec.Encode(partial));
        return partial;
    }

    /// <summary>
    /// The record as grain storage gives it back: serialized and read again, and each book its records serialized and read
    /// again, as <see cref="ShardJournal"/> keeps them apart from the record.
    /// </summary>
    private static JobRecord Reload(JobRecord record)
    {
        using var services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(JobRecord).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var copy = serializer.Deserialize<JobRecord>(serializer.SerializeToArray(record)) ?? throw new InvalidOperationException("no record");
        Assert.Empty(copy.Books);
        Assert.Equal(record.Books.Keys.Order(), copy.BookSizes.Keys.Order());
        foreach (var (pass, book) in record.Books)
            copy.Books[pass] = new ShardBook(serializer.Deserialize<ShardRecord[]>(serializer.SerializeToArray(book.Records))!);
        return copy;
    }
}
