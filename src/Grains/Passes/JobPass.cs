namespace ExplainCluster.Grains.Passes;

/// <summary>
/// The pass a job is in, persisted in its <see cref="JobRecord"/>: each pass runs every shard once (as numbered
/// attempts of its own) and merges the results before the next one is planned. A pass with nothing to do for a
/// job (no stratified subsets, no post work) is skipped. After the last, the job finalizes (<see cref="Contracts.JobState.Finalizing"/>).
/// </summary>
[GenerateSerializer, Alias("ec.JobPass")]
public enum JobPass
{
    /// <summary>Stratified subsets' selection (<see cref="SelectPass"/>): a forward pass over every shard.</summary>
    Select = 0,

    /// <summary>The shards' explanations and statistics (<see cref="ExplainPass"/>).</summary>
    Explain = 1,

    /// <summary>After every shard's explanations: pruning's curve, maximisation, the embedding's projection (<see cref="PostPass"/>).</summary>
    Post = 2,

    /// <summary>Once the job's files are in place: its comparison with a baseline run, over fixed ranges of samples (<see cref="ComparePass"/>).</summary>
    Compare = 3,

    /// <summary>
    /// Before the explanations (after the selection, if any): the job's concept activation vectors (TCAV), trained once by one
    /// attempt on a model host (<see cref="ConceptsPass"/>). Numbered after the others (persisted); runs second.
    /// </summary>
    Concepts = 4,

    /// <summary>
    /// After the explanations, before the post pass: a table's error tree, one level at a time (<see cref="TreePass"/>): each level
    /// runs every shard again. Numbered after the others (persisted); runs third.
    /// </summary>
    Tree = 5,
}
