using ExplainCluster.Engine.Segmentation;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// One shard's samples as read from storage: raw values, labels when the job has them, and the samples'
/// segments when a method of the job uses them (<see cref="JobSegments"/>); for a table, its feature names (each
/// method's maps then hold one value per feature); a table's or an image manifest's metadata columns (written beside the
/// samples as they are) and which of them the job's cohorts are by (<see cref="Cohorts"/>); and the rows outside the shard
/// that its methods read (<see cref="Outside"/>: a table method's background rows); a table's <c>dependence</c>, whose sample
/// the shard's rows add to; for a table with an error tree, its options and the table's encodings (<see cref="ErrorTree"/>).
/// </summary>
public sealed record ShardData(long Start, int Count, float[] Raw, long[]? Labels, int[] SampleShape, SegmentedBatch? Segments = null,
    string[]? Features = null, TextColumn[]? Metadata = null, string[]? Cohorts = null, RowSet? Outside = null,
    Contracts.DependenceSpec? Dependence = null, ErrorTree.ErrorTreeInput? ErrorTree = null);

/// <summary>Rows of the dataset by index (ascending), raw as the shard's own: [Indices.Length, sample shape], row-major.</summary>
public sealed record RowSet(long[] Indices, float[] Raw);

/// <summary>A column of text, one value per sample (null: missing).</summary>
public sealed record TextColumn(string Name, string?[] Values);
