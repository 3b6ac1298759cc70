using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// The job file's <c>data</c> when it names image files: <c>images</c> (a folder; <c>labels</c>: <c>"folders"</c>) or
/// <c>manifest</c> (with <c>path</c>, <c>label</c> and <c>metadata</c>) or <c>tar</c> (WebDataset shards: a .tar or a folder of them), each with <c>transforms</c>, <c>onBadSample</c> (<c>fail</c> or <c>skip</c>) and, with <c>skip</c>,
/// <c>maxBadSamples</c>. The transforms'
/// toTensor and normalize become the job's preprocess.
/// </summary>
public static class ImageDataOptions
{
    public static DataSpec Read(JsonElement data, string baseDirectory)
    {
        var options = new OptionsReader(data, "data.");
        var manifest = options.Raw("manifest") is not null;
        var tar = options.Raw("tar") is not null;
        var location = options.Text(manifest ? "manifest" : tar ? "tar" : "images");
        if (tar && options.Raw("labels") is not null)
            throw new ExplainException("data.labels: with tar, each sample's label is its KEY.cls member (WebDataset naming)");
        var folders = !manifest && options.Raw("labels") is not null && (options.Text("labels") == "folders"
            ? true : throw new ExplainException("data.labels: with images, labels are \"folders\" (the first folder under images is the class)"));
        var path = manifest ? options.Text("path") : null;
        var label = manifest && options.Raw("label") is not null ? options.Text("label") : null;
        if (!manifest && options.Raw("metadata") is not null)
            throw new ExplainException("data.metadata: only with a manifest (its columns); a folder of images has none");
        var metadata = manifest ? MetadataOptions.Read(options) : [];
        var transforms = options.Raw("transforms") is { } t ? t.GetRawText() : "[{\"toTensor\": {}}]";
        var onBad = options.Choice("onBadSample", "fail", "skip") == "skip" ? BadSamplePolicy.Skip : BadSamplePolicy.Fail;
        if (onBad == BadSamplePolicy.Fail && options.Raw("maxBadSamples") is not null)
            throw new ExplainException("data.maxBadSamples: only with \"onBadSample\": \"skip\" (with \"fail\", the first bad sample fails the job)");
        var maxBad = options.Integer("maxBadSamples", (int)ImagesSpec.DefaultMaxBadSamples, 0, int.MaxValue);
        options.RejectUnread();
        return new DataSpec(BlobLocator.Absolute(location, baseDirectory), null, ImagePipeline.Parse(transforms).Preprocess,
            new ImagesSpec(manifest, path, label, folders, transforms, onBad, metadata.Length > 0 ? metadata : null, maxBad, tar));
    }
}
