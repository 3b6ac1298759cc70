namespace ExplainCluster.Contracts;

/// <summary>A validated job: every location already resolved to an absolute path or URI.</summary>
[GenerateSerializer, Immutable, Alias("ec.JobSpec")]
public sealed record JobSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] ModelSpec Model,
    [property: Id(2)] DataSpec Data,
    [property: Id(3)] MethodSpec[] Methods,
    [property: Id(4)] TargetMode Target,
    [property: Id(5)] int ShardSize,
    [property: Id(6)] string Output,
    [property: Id(7)] int BatchSize,
    [property: Id(8)] string SourceJson,
    [property: Id(9)] SegmentsSpec? Segments = null,
    [property: Id(10)] FaithfulnessSpec? Faithfulness = null,
    [property: Id(11)] bool Overwrite = false,
    [property: Id(12)] SanitySpec? Sanity = null,
    [property: Id(13)] ViewSpec[]? Views = null,
    [property: Id(14)] string? History = null,
    [property: Id(15)] CompareSpec? Compare = null,
    [property: Id(16)] VerdictsSpec? Verdicts = null,
    [property: Id(17)] TrustSpec? Trust = null,
    [property: Id(18)] ConceptsSpec? Concepts = null,
    [property: Id(19)] string[]? Cohorts = null,
    [property: Id(20)] DependenceSpec? Dependence = null,
    [property: Id(21)] ErrorTreeSpec? ErrorTree = null,
    [property: Id(23)] MapsSpec? Maps = null);

[GenerateSerializer, Immutable, Alias("ec.ModelSpec")]
public sealed record ModelSpec([property: Id(0)] string Uri, [property: Id(1)] string[]? Classes);

/// <summary>
/// The samples: one array file (<see cref="Inputs"/>, with <see cref="Labels"/>), image files (<see cref="Images"/>,
/// whose folder or manifest is <see cref="Inputs"/> too, so that every location check and provenance sees it), or a
/// table (<see cref="Table"/>, a CSV or Parquet file that is <see cref="Inputs"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.DataSpec")]
public sealed record DataSpec(
    [property: Id(0)] string Inputs,
    [property: Id(1)] string? Labels,
    [property: Id(2)] PreprocessSpec Preprocess,
    [property: Id(3)] ImagesSpec? Images = null,
    [property: Id(4)] TableSpec? Table = null)
{
    /// <summary>Whether the samples have labels: a labels file, the image folders, a manifest's or a table's label column.</summary>
    public bool HasLabels => Labels is not null || Images is { LabelsFromFolders: true } or { LabelColumn: not null } || Table is { Label: not null };
}

/// <summary>
/// A table's columns as the model takes them: each feature encoded in order into one float32 vector (a one-hot
/// feature takes one element per level), the label column (integers, or names of <c>model.classes</c>), and
/// metadata columns carried beside the samples.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.TableSpec")]
public sealed record TableSpec(
    [property: Id(0)] TableFeature[] Features,
    [property: Id(1)] string? Label,
    [property: Id(2)] string[] Metadata);

/// <summary>
/// One feature: its column, how its value becomes the model's input (<see cref="Encoding"/>: (x − mean) / std,
/// one-hot or the index over <see cref="Levels"/>, or the number as it is), and what a missing value becomes
/// (<see cref="Missing"/>, a value of the column before encoding; null: a missing value fails the job).
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.TableFeature")]
public sealed record TableFeature(
    [property: Id(0)] string Name,
    [property: Id(1)] bool Categorical,
    [property: Id(2)] FeatureEncoding Encoding,
    [property: Id(3)] double Mean,
    [property: Id(4)] double Std,
    [property: Id(5)] string[]? Levels,
    [property: Id(6)] string? Missing)
{
    /// <summary>How many elements of the model's vector it takes.</summary>
    public int Width => Encoding == FeatureEncoding.OneHot ? Levels!.Length : 1;
}

[GenerateSerializer, Alias("ec.FeatureEncoding")]
public enum FeatureEncoding
{
    /// <summary>A numeric feature as it is.</summary>
    Identity = 0,
    /// <summary>(x − mean) / std.</summary>
    Standardize = 1,
    /// <summary>1 at the level's position, 0 elsewhere.</summary>
    OneHot = 2,
    /// <summary>The level's position, as a number.</summary>
    Index = 3,
}

/// <summary>
/// Image files: a folder read recursively (<see cref="Manifest"/> false), a manifest (CSV or Parquet) listing them, or
/// WebDataset tar shards (<see cref="Tar"/>: one .tar, or a folder of them). The transforms
/// are the job file's JSON array (checked when the job file is read); their toTensor and normalize are also the job's
/// <see cref="DataSpec.Preprocess"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.ImagesSpec")]
public sealed record ImagesSpec(
    [property: Id(0)] bool Manifest,
    [property: Id(1)] string? PathColumn,
    [property: Id(2)] string? LabelColumn,
    [property: Id(3)] bool LabelsFromFolders,
    [property: Id(4)] string Transforms,
    [property: Id(5)] BadSamplePolicy OnBadSample = BadSamplePolicy.Fail,
    [property: Id(6)] string[]? Metadata = null,
    [property: Id(7)] long MaxBadSamples = ImagesSpec.DefaultMaxBadSamples,
    [property: Id(8)] bool Tar = false)
{
    /// <summary>
    /// <c>data.maxBadSamples</c>'s default: a count, not a fraction, so that a job fails at the same sample however large its
    /// dataset, and a thousand images is what one person can still look through in the errors table.
    /// </summary>
    public const long DefaultMaxBadSamples = 1000;
}

[GenerateSerializer, Alias("ec.BadSamplePolicy")]
public enum BadSamplePolicy
{
    /// <summary>A sample that cannot be read or decoded fails the job with one line naming it.</summary>
    Fail = 0,

    /// <summary>
    /// A sample that cannot be read or decoded is left out of every statistic and per-sample table and listed in the errors table;
    /// the job fails only once more than <see cref="ImagesSpec.MaxBadSamples"/> have been.
    /// </summary>
    Skip = 1,
}

/// <summary>x = (raw · scale − mean[c]) / std[c], reshaped to <see cref="Shape"/> per sample.</summary>
[GenerateSerializer, Immutable, Alias("ec.PreprocessSpec")]
public sealed record PreprocessSpec(
    [property: Id(0)] double Scale,
    [property: Id(1)] double[]? Mean,
    [property: Id(2)] double[]? Std,
    [property: Id(3)] int[]? Shape);

/// <summary>
/// One explanation method by its registered name, with its options as the job file gave them (a JSON object's
/// text, read by the method itself; checked when the job file is read) and the layer it splits, if any.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.MethodSpec")]
public sealed record MethodSpec([property: Id(0)] string Name, [property: Id(1)] string? Layer, [property: Id(2)] string Options = "{}");

[GenerateSerializer, Alias("ec.TargetMode")]
public enum TargetMode
{
    Predicted = 0,
    Label = 1,
}
