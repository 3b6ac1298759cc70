using ExplainCluster.Engine.Data.Images.Transforms;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// Reads a range of an <see cref="ImageList"/> as the model's raw input: each file read, decoded and transformed on the
/// thread pool, several at once (never on a model-host thread), into the shard's array, channels first, values 0–255
/// (the job's preprocess applies toTensor's 1/255 and normalize on the model host). Memory: the shard's array and one
/// decoded image per decoder at a time.
/// </summary>
public sealed class ImageSource
{
    private readonly ImageList _list;
    private readonly ImagePipeline _pipeline;
    private readonly BlobLocator _locator;
    private readonly long _maxDecodedBytes;
    private readonly int _decoders;

    private ImageSource(ImageList list, ImagePipeline pipeline, BlobLocator locator, long maxDecodedBytes, int decoders, ImageShape shape)
    {
        (_list, _pipeline, _locator, _maxDecodedBytes, _decoders) = (list, pipeline, locator, maxDecodedBytes, decoders);
        Shape = shape;
    }

    /// <summary>Every sample's shape after the transforms: the first image's, which every other must match.</summary>
    public ImageShape Shape { get; }

    public long Count => _list.Locations.Length;

    public long[]? Labels => _list.Labels;

    /// <summary>Opens the list and reads the first image's header (nothing decoded) for the samples' shape.</summary>
    public static async Task<ImageSource> OpenAsync(ImageList list, ImagePipeline pipeline, BlobLocator locator, long maxDecodedBytes, CancellationToken ct)
    {
        var first = list.Locations[0];
        var header = ImageDecoder.ReadHeader(await ReadFileAsync(locator, first, maxDecodedBytes, ct), first);
        ImageDecoder.CheckSize(header.Width, header.Height, first, maxDecodedBytes);
        var shape = pipeline.ShapeOf(new ImageShape(3, header.Height, header.Width));
        return new ImageSource(list, pipeline, locator, maxDecodedBytes, Math.Max(1, Environment.ProcessorCount), shape);
    }

    /// <summary>Samples [start, start + count) as float values 0–255, [count, C, H, W].</summary>
    public async Task<float[]> ReadAsync(long start, int count, CancellationToken ct)
    {
        var size = checked((int)Shape.Elements);
        var raw = new float[checked(count * size)];
        // On the thread pool whatever scheduler the caller runs on (a grain's, or a model host's, must never decode).
        var options = new ParallelOptions { MaxDegreeOfParallelism = _decoders, CancellationToken = ct, TaskScheduler = TaskScheduler.Default };
        await Parallel.ForAsync(0, count, options, async (i, token) =>
        {
            var location = _list.Locations[start + i];
            var bytes = await ReadFileAsync(_locator, location, _maxDecodedBytes, token);
            var image = _pipeline.Apply(ImageDecoder.Decode(bytes, location, _maxDecodedBytes));
            if (ImageShape.Of(image) != Shape)
                throw new ExplainException(
                    $"{location}: is {image.Width}x{image.Height} after data.transforms, the first image {Shape.Width}x{Shape.Height}; end the transforms with centerCrop or resize [h, w] so that every image has one size");
            image.CopyPlanarTo(raw.AsSpan(i * size, size));
        });
        return raw;
    }

    /// <summary>A whole image file; one larger than the decoded limit is refused unread (no image format compresses that badly).</summary>
    private static async Task<byte[]> ReadFileAsync(BlobLocator locator, string location, long maxBytes, CancellationToken ct)
    {
        var blob = locator.Resolve(location);
        try
        {
            if (!await blob.ExistsAsync(ct)) throw new ExplainException($"{location}: does not exist");
            var length = await blob.LengthAsync(ct);
            if (length == 0) throw new ExplainException($"{location}: is empty");
            if (length > maxBytes) throw new ExplainException($"{location}: {length} bytes, above Limits:MaxSampleBytes ({maxBytes})");
            return await blob.ReadRangeAsync(0, (int)length, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExplainException($"{location}: cannot be read: {e.Message}", e);
        }
    }
}
