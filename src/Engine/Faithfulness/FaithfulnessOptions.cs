using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Faithfulness;

/// <summary>The job file's <c>faithfulness</c> object, read strictly: steps [20], baseline ["zero" | a number], seed [0].</summary>
public static class FaithfulnessOptions
{
    private const string Prefix = "faithfulness.";

    /// <param name="json">The object's text.</param>
    public static FaithfulnessSpec Read(string json)
    {
        var o = OptionsReader.Parse(json, Prefix);
        var steps = o.Integer("steps", FaithfulnessSpec.DefaultSteps, 1, 10_000);
        var baseline = o.Raw("baseline") switch
        {
            null => 0,
            { ValueKind: JsonValueKind.String } v when v.GetString() == "zero" => 0,
            { ValueKind: JsonValueKind.Number } v when double.IsFinite(v.GetDouble()) => v.GetDouble(),
            _ => throw new ExplainException($"{Prefix}baseline: expected \"zero\" or a number"),
        };
        var seed = o.Integer("seed", 0, 0, int.MaxValue);
        o.RejectUnread();
        return new FaithfulnessSpec(steps, baseline, seed);
    }
}
