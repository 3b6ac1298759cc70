using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Concepts;

/// <summary>
/// The job file's <c>concepts</c> object, read strictly: layer (required), sets (required: {NAME: LOCATION, …}, at least one),
/// random (required: LOCATION), runs [10, from 2], seed [0], examples [0: the smallest set's size, at most half the random
/// examples], alpha [0.05]. A location ending in .npy is an array of samples as the data's raw values; any other is a folder of
/// images (read with the job's transforms, so it needs image data). Locations are relative to the job file.
/// </summary>
public static class ConceptsOptions
{
    private const string Prefix = "concepts.";

    public static ConceptsSpec Read(JsonElement element, string baseDirectory, DataSpec data)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new ExplainException("concepts: expected an object");
        if (data.Table is not null) throw new ExplainException("concepts: a table's samples have no layer of images to take concepts at; TCAV needs image or array data");
        var o = new OptionsReader(element, Prefix);
        var layer = o.Text("layer");
        if (o.Raw("sets") is not { ValueKind: JsonValueKind.Object } sets)
            throw new ExplainException(o.Raw("sets") is null ? "concepts.sets: missing" : "concepts.sets: expected an object of concept names and their locations");
        var concepts = sets.EnumerateObject().Select(p => new ConceptSet(Name(p.Name),
            Location(p.Value, $"{Prefix}sets.{p.Name}", baseDirectory, data))).ToArray();
        if (concepts.Length == 0) throw new ExplainException("concepts.sets: name at least one concept");
        var random = Location(o.Raw("random") ?? throw new ExplainException("concepts.random: missing"), $"{Prefix}random", baseDirectory, data);
        var runs = o.Integer("runs", ConceptsSpec.DefaultRuns, 2, 1000);
        var seed = o.Integer("seed", 0, 0, int.MaxValue);
        var examples = o.Integer("examples", 0, ConceptsSpec.MinExamples, 100_000);
        var alpha = o.Number("alpha", ConceptsSpec.DefaultAlpha, double.Epsilon, 0.5, "a number above 0 and at most 0.5");
        o.RejectUnread();
        return new ConceptsSpec(layer, concepts, random, runs, seed, examples, alpha);
    }

    /// <summary>Whether a set's location is an array file (else a folder of images).</summary>
    public static bool IsArray(string location) => location.Split('?')[0].EndsWith(".npy", StringComparison.OrdinalIgnoreCase);

    private static string Name(string name) =>
        name.Length > 0 && name != "random" && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? name
            : throw new ExplainException($"concepts.sets.{name}: a concept's name is letters, digits, '-' and '_' (and not \"random\")");

    private static string Location(JsonElement value, string path, string baseDirectory, DataSpec data)
    {
        var location = value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s
            : throw new ExplainException($"{path}: expected a location (a folder of images or a .npy file)");
        if (!IsArray(location) && data.Images is null)
            throw new ExplainException($"{path}: {location} is read as a folder of images, which needs image data (data.images); give a .npy array of samples instead");
        return BlobLocator.Absolute(location, baseDirectory);
    }
}
