namespace ExplainCluster.Grains.Passes;

/// <summary>The passes a job goes through, from <see cref="First"/> along each pass's <see cref="IJobPass.Next"/>.</summary>
public static class JobPasses
{
    public const JobPass First = JobPass.Select;

    public static IJobPass Create(JobPass kind, JobContext job) => kind switch
    {
        JobPass.Select => new SelectPass(job),
        JobPass.Explain => new ExplainPass(job),
        JobPass.Post => new PostPass(job),
        JobPass.Compare => new ComparePass(job),
        JobPass.Concepts => new ConceptsPass(job),
        JobPass.Tree => new TreePass(job),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no such pass"),
    };

    /// <summary>From <paramref name="kind"/> on, the first pass the job has work for, planned; null when none is left.</summary>
    public static async Task<IJobPass?> PlanAsync(JobPass? kind, JobContext job)
    {
        while (kind is { } next)
        {
            var pass = Create(next, job);
            if (await pass.PlanAsync()) return pass;
            kind = pass.Next;
        }
        return null;
    }

    /// <summary>
    /// After the job's grain reactivated: each pass that ran, up to the record's, rebuilds what it merged, in order (the
    /// post pass plans from what the explain pass merged). Returns the record's pass, and whether shards of it must run again.
    /// An earlier pass whose results were not kept (the post pass, when the job was comparing) becomes the record's pass
    /// again, and the passes after it are planned afresh once it is done.
    /// </summary>
    public static async Task<(IJobPass Pass, bool Redo)> ResumeAsync(JobContext job)
    {
        // A record written before passes were explicit (no book for its pass) cannot say where the job stood.
        if (!job.Record.Books.ContainsKey(job.Record.Pass)) throw new Engine.ExplainException("its record has no shard attempts for its pass; submit the job again");
        for (JobPass? kind = First; kind is { } next; )
        {
            var pass = Create(next, job);
            var redo = job.Record.Books.ContainsKey(next) && await pass.ResumeAsync();
            if (next == job.Record.Pass) return (pass, redo);
            if (redo)
            {
                for (JobPass? later = pass.Next; later is { } l; later = Create(l, job).Next) job.Record.Drop(l);
                job.Record.Pass = next;
                return (pass, true);
            }
            kind = pass.Next;
        }
        throw new InvalidOperationException($"the job's pass {job.Record.Pass} does not follow from {First}");
    }
}
