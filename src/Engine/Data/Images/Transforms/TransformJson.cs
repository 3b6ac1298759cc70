using System.Text.Json;

namespace ExplainCluster.Engine.Data.Images.Transforms;

/// <summary>The shapes torchvision's transforms take their sizes in: an integer, or a list of 1, 2 or 4 integers.</summary>
internal static class TransformJson
{
    /// <summary>An integer (as a list of one) or a list whose length is one of <paramref name="lengths"/>, each in [min, 65536].</summary>
    public static int[] Integers(JsonElement value, string path, int min, params int[] lengths)
    {
        var expected = $"expected an integer from {min} or a list of {string.Join(" or ", lengths)} of them";
        int One(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) && v >= min && v <= 65536 ? v
            : throw new ExplainException($"{path}: {expected}");
        if (value.ValueKind == JsonValueKind.Number) return [One(value)];
        if (value.ValueKind == JsonValueKind.Array && lengths.Contains(value.GetArrayLength()))
            return [.. value.EnumerateArray().Select(One)];
        throw new ExplainException($"{path}: {expected}");
    }
}
