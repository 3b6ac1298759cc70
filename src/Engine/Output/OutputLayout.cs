using System.Globalization;

namespace ExplainCluster.Engine.Output;

/// <summary>The documented output layout, relative to the job's output location.</summary>
public static class OutputLayout
{
    public const string Manifest = "manifest.json";
    public const string Summary = "summary.json";
    public const string Report = "report.html";

    /// <summary>The report printed (<c>explain report OUT --pdf</c>, <c>explain run --pdf</c>).</summary>
    public const string Pdf = "report.pdf";

    /// <summary>The report's findings, verdicts, intervals and provenance as data (docs/evidence.md), written beside it.</summary>
    public const string Evidence = "evidence.json";

    /// <summary>A .npy file summary.json names: class means, mean |attribution| maps, the confusion matrix.</summary>
    public static string SummaryArray(string name) => $"summary/{name}.npy";

    public static string SamplesPart(int shard) => $"samples/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.parquet";

    public static string LogitsPart(int shard) => $"logits/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.npy";

    public static string AttributionPart(string method, int shard) =>
        $"attributions/{method}/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.npy";

    /// <summary>A table job's per-sample attributions, one float column per feature named after it, keyed by <c>index</c> (the dataset index).</summary>
    public static string AttributionTable(string method, int shard) =>
        $"attributions/{method}/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.parquet";

    /// <summary>Where one attempt at a shard stages its files (the same layout below it) until the job accepts it.</summary>
    public static string Attempt(int shard, int attempt) =>
        $"{Attempts}/shard-{shard.ToString("D5", CultureInfo.InvariantCulture)}-a{attempt.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Where one attempt of the post pass stages its files (the embedding's coordinates, <see cref="SampleColumns"/>): apart from
    /// the explain pass's attempts, which it never writes into; the job joins them when it completes.
    /// </summary>
    public static string PostAttempt(int shard, int attempt) =>
        $"{Attempts}/post/shard-{shard.ToString("D5", CultureInfo.InvariantCulture)}-a{attempt.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Where an attempt of the concepts pass stages the job's concept activation vectors (<see cref="Concepts.ConceptVectors.Encode"/>), read by every explain attempt.</summary>
    public static string ConceptsAttempt(int attempt) => $"{Attempts}/concepts-a{attempt.ToString(CultureInfo.InvariantCulture)}/cavs.bin";

    /// <summary>In a post attempt's staging: its per-sample columns (<see cref="ParquetColumns"/>), joined to the shard's samples part at commit.</summary>
    public const string SampleColumns = "sample-columns.parquet";

    /// <summary>
    /// In an explain attempt's staging: the shard's error-tree rows for the tree's columns (<see cref="ErrorTree.TreeRows.Encode"/>,
    /// named by <see cref="ErrorTree.ErrorTreeGrowth.ColumnsKey"/>), written by the tree's first level and read by the later ones.
    /// </summary>
    public static string TreeRows(string columnsKey) => $"tree-rows-{columnsKey[..Math.Min(16, columnsKey.Length)]}.bin";

    /// <summary>An attempt's partial statistics (<see cref="Jobs.PartialCodec"/>), read when the job takes them by reference or resumes.</summary>
    public static string Partial(int shard, int attempt) => $"{Attempt(shard, attempt)}/partial.bin";

    /// <summary>Everything a job writes besides manifest.json: what taking over an ended job's output deletes.</summary>
    public static readonly string[] Folders = ["samples", Errors, "logits", "attributions", "segments", "embedding", "summary", "plots", "compare", Summary, Report, Pdf, Evidence, "_attempts"];

    /// <summary>The staging folder of every attempt; gone once the job has completed.</summary>
    public const string Attempts = "_attempts";

    /// <summary>The folder of the errors tables (<see cref="ErrorsPart"/>).</summary>
    public const string Errors = "errors";

    /// <summary>
    /// With <c>"onBadSample": "skip"</c>, a shard's images that could not be read, one row each (index, path, kind, reason); written by
    /// every shard's attempt, empty when it skipped none, and moved into place with the other parts.
    /// </summary>
    public static string ErrorsPart(int shard) => $"{Errors}/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.parquet";

    /// <summary>Each sample's segment ids, int32 [n, H, W], when a method of the job uses segments.</summary>
    public static string EmbeddingPart(int shard) => $"embedding/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.npy";

    public static string SegmentsPart(int shard) => $"segments/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.npy";

    /// <summary>The files one shard's explain attempt writes, relative to the output (or to its attempt's staging folder).</summary>
    /// <param name="subsetMethods">The methods with a subset, which also write an index file.</param>
    /// <param name="tableMethods">A table job's methods, which also write their attributions as parquet (<see cref="AttributionTable"/>).</param>
    /// <param name="errors">The job skips bad images: each shard writes its errors table.</param>
    public static IEnumerable<string> ShardFiles(IEnumerable<string> methods, int shard, bool segments = false, IEnumerable<string>? subsetMethods = null,
        IEnumerable<string>? tableMethods = null, bool errors = false) =>
        [.. methods.Select(m => AttributionPart(m, shard)), .. (subsetMethods ?? []).Select(m => AttributionIndex(m, shard)),
         .. (tableMethods ?? []).Select(m => AttributionTable(m, shard)),
         LogitsPart(shard), SamplesPart(shard), .. segments ? [SegmentsPart(shard)] : Array.Empty<string>(), .. errors ? [ErrorsPart(shard)] : Array.Empty<string>()];

    /// <summary>For a method with a subset: int64 [rows], the dataset index each row of its part explains.</summary>
    public static string AttributionIndex(string method, int shard) =>
        $"attributions/{method}/index-{shard.ToString("D5", CultureInfo.InvariantCulture)}.npy";

    /// <summary>A method's name as a parquet column prefix: snake_case (grad-x-input → grad_x_input), so SQL engines and pandas need no quoting.</summary>
    public static string Column(string method) => method.Replace('-', '_');

    public static string Plot(string name) => $"plots/{name}.png";
}
