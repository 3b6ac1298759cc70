using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data.Images.Transforms;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// The job's <c>data.transforms</c>, as torchvision's <c>transforms.Compose</c> list: the PIL transforms (resize,
/// centerCrop, pad, grayscale) run here on decoded pixels, in order; <c>toTensor</c> and <c>normalize</c> become the
/// job's <see cref="PreprocessSpec"/> (scale 1/255, mean, std), applied on the model host as for any other input.
/// Every image starts as RGB, as ImageFolder's loader makes it (<c>convert("RGB")</c>: grayscale replicated, alpha dropped).
/// </summary>
public sealed class ImagePipeline
{
    private static readonly Dictionary<string, Func<JsonElement, string, IImageTransform>> PilTransforms = new(StringComparer.Ordinal)
    {
        ["resize"] = Resize.Read,
        ["centerCrop"] = CenterCrop.Read,
        ["pad"] = Pad.Read,
        ["grayscale"] = Grayscale.Read,
    };

    private ImagePipeline(IImageTransform[] transforms, PreprocessSpec preprocess)
    {
        Transforms = transforms;
        Preprocess = preprocess;
    }

    public IReadOnlyList<IImageTransform> Transforms { get; }

    /// <summary>toTensor's 1/255 and normalize's mean and std; no shape (the images give it).</summary>
    public PreprocessSpec Preprocess { get; }

    /// <summary>Parses <paramref name="json"/> (the array's text; null: toTensor alone), naming errors <c>data.transforms[i]</c>.</summary>
    public static ImagePipeline Parse(string? json)
    {
        const string Path = "data.transforms";
        if (json is null) return new ImagePipeline([], new PreprocessSpec(1.0 / 255, null, null, null));
        using var document = JsonText.Parse(json, Path);
        if (document.RootElement.ValueKind != JsonValueKind.Array) throw new ExplainException($"{Path}: expected a list of transforms");
        var transforms = new List<IImageTransform>();
        var channels = 3;
        bool tensor = false;
        double[]? mean = null, std = null;
        var i = 0;
        foreach (var item in document.RootElement.EnumerateArray())
        {
            var at = $"{Path}[{i++}]";
            if (item.ValueKind != JsonValueKind.Object || item.EnumerateObject().Count() != 1)
                throw new ExplainException($"{at}: expected an object with one transform, e.g. {{\"resize\": 256}}");
            var property = item.EnumerateObject().First();
            var name = property.Name;
            if (PilTransforms.TryGetValue(name, out var read))
            {
                if (tensor) throw new ExplainException($"{at}.{name}: comes after toTensor; put it before, on the PIL image");
                var transform = read(property.Value, $"{at}.{name}");
                channels = transform.ShapeOf(new ImageShape(channels, 1, 1)).Channels;
                transforms.Add(transform);
            }
            else if (name == "toTensor")
            {
                if (tensor) throw new ExplainException($"{at}.toTensor: the list has toTensor twice");
                new OptionsReader(Object(property.Value, $"{at}.toTensor"), $"{at}.toTensor.").RejectUnread();
                tensor = true;
            }
            else if (name == "normalize")
            {
                if (!tensor || mean is not null) throw new ExplainException($"{at}.normalize: expected once, after toTensor");
                (mean, std) = Normalize(property.Value, $"{at}.normalize", channels);
            }
            else
            {
                throw new ExplainException($"{at}.{name}: unknown transform (resize, centerCrop, pad, grayscale, toTensor, normalize)");
            }
        }
        if (!tensor) throw new ExplainException($"{Path}: toTensor missing (the model receives tensors, as in torchvision's pipelines)");
        return new ImagePipeline([.. transforms], new PreprocessSpec(1.0 / 255, mean, std, null));
    }

    /// <summary>The shape an image of <paramref name="input"/> becomes (from its header: nothing decoded).</summary>
    public ImageShape ShapeOf(ImageShape input) => Transforms.Aggregate(input, (shape, t) => t.ShapeOf(shape));

    public Pixels Apply(Pixels image) => Transforms.Aggregate(image, (pixels, t) => t.Apply(pixels));

    private static (double[] Mean, double[] Std) Normalize(JsonElement value, string path, int channels)
    {
        var options = new OptionsReader(Object(value, path), path + ".");
        double[] Numbers(string name) => options.Raw(name) is { ValueKind: JsonValueKind.Array } a && a.GetArrayLength() is var n && (n == 1 || n == channels)
            ? [.. a.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && double.IsFinite(x.GetDouble()) ? x.GetDouble()
                : throw new ExplainException($"{path}.{name}: expected numbers"))]
            : throw new ExplainException(channels == 1 ? $"{path}.{name}: expected a list of 1 number (the images have 1 channel here)"
                : $"{path}.{name}: expected a list of 1 or {channels} numbers (the images have {channels} channels here)");
        var mean = Numbers("mean");
        var std = Numbers("std");
        options.RejectUnread();
        if (mean.Length != std.Length) throw new ExplainException($"{path}: mean and std differ in length");
        if (std.Any(s => s <= 0)) throw new ExplainException($"{path}.std: every value must be > 0");
        return (mean, std);
    }

    private static JsonElement Object(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.Object ? e : throw new ExplainException($"{path}: expected an object");
}
