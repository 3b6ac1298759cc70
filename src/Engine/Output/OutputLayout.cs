using System.Globalization;

namespace ExplainCluster.Engine.Output;

/// <summary>The documented output layout, relative to the job's output location.</summary>
public static class OutputLayout
{
    public const string Manifest = "manifest.json";
    public const string Summary = "summary.json";
    public const string Report = "report.html";

    public static string SamplesPart(int shard) => $"samples/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.parquet";

    public static string LogitsPart(int shard) => $"logits/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.npy";

    public static string AttributionPart(string method, int shard) =>
        $"attributions/{method}/part-{shard.ToString("D5", CultureInfo.InvariantCulture)}.npy";

    public static string Plot(string name) => $"plots/{name}.png";
}
