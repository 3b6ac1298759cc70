using System.Diagnostics;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;

/// <summary>The shard tensor work of one job on the demo set (ShardExplainer, no cluster): one warm-up, then the best of the rounds.</summary>
internal static class ShardJobTimer
{
    /// <param name="methods">The <c>methods</c> object's members.</param>
    /// <param name="extra">Further top-level members, each after a comma.</param>
    public static double BestSeconds(ExplainModel model, ShardData data, string sample, string methods, string extra, int rounds)
    {
        var job = JobFile.Parse($$"""
            { "model": { "uri": "model.pt" }, "data": { "inputs": "images.npy", "labels": "labels.npy",
              "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
              "methods": { {{methods}} }, "batchSize": 256, "output": "out" {{extra}} }
            """, sample);
        ShardExplainer.Compute(model, job, data);
        var best = double.MaxValue;
        for (var r = 0; r < rounds; r++)
        {
            var watch = Stopwatch.StartNew();
            ShardExplainer.Compute(model, job, data);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return best;
    }
}
