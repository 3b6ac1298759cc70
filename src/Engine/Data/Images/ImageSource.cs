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

    /// <summary>
    /// Opens the list and reads the first image's header (nothing decoded) for the samples' shape; with <paramref name="skip"/>,
    /// the first image whose header can be read (every shard opens the list alike, so every shard finds the same one).
    /// </summary>
    public static async Task<ImageSource> OpenAsync(ImageList list, ImagePipeline pipeline, BlobLocator locator, long maxDecodedBytes, CancellationToken ct,
        bool skip = false)
    {
        for (var i = 0; ; i++)
        {
            var location = list.Locations[i];
            try
            {
                var header = ImageDecoder.ReadHeader(await ReadFileAsync(locator, list, i, maxDecodedBytes, ct), location);
                ImageDecoder.CheckSize(header.Width, header.Height, location, maxDecodedBytes);
                var shape = pipeline.ShapeOf(new ImageShape(3, header.Height, header.Width));
                return new ImageSource(list, pipeline, locator, maxDecodedBytes, Math.Max(1, Environment.ProcessorCount), shape);
            }
            catch (ExplainException e) when (skip && i + 1 < list.Locations.Length && BadSample.Of(e, i, location) is not null)
            {
                // The next image gives the shape; this one is recorded as bad by the shard that reads it.
            }
        }
    }

    /// <summary>
    /// Samples [start, start + count) as float values 0–255, [kept, C, H, W]. With <paramref name="skip"/>, an image that
    /// cannot be read or decoded is left out (<see cref="ImageRead.Bad"/>) and the array holds the others in order
    /// (<see cref="ImageRead.Kept"/>); without, the first such image fails the read with its one-line error.
    /// </summary>
    public async Task<ImageRead> ReadAsync(long start, int count, CancellationToken ct, bool skip = false)
    {
        var size = checked((int)Shape.Elements);
        var raw = new float[checked(count * size)];
        var bad = new BadSample?[count];
        // On the thread pool whatever scheduler the caller runs on (a grain's, or a model host's, must never decode).
        var options = new ParallelOptions { MaxDegreeOfParallelism = _decoders, CancellationToken = ct, TaskScheduler = TaskScheduler.Default };
        await Parallel.ForAsync(0, count, options, async (i, token) =>
        {
            var location = _list.Locations[start + i];
            Pixels image;
            try
            {
                var bytes = await ReadFileAsync(_locator, _list, start + i, _maxDecodedBytes, token);
                image = _pipeline.Apply(ImageDecoder.Decode(bytes, location, _maxDecodedBytes));
            }
            catch (ExplainException e) when (skip && BadSample.Of(e, start + i, location) is { } sample)
            {
                bad[i] = sample;
                return;
            }
            if (ImageShape.Of(image) != Shape)
                throw new ExplainException(
                    $"{location}: is {image.Width}x{image.Height} after data.transforms, the first image {Shape.Width}x{Shape.Height}; end the transforms with centerCrop or resize [h, w] so that every image has one size");
            image.CopyPlanarTo(raw.AsSpan(i * size, size));
        });
        if (!bad.Any(b => b is not null)) return new ImageRead(raw, null, []);
        var kept = Enumerable.Range(0, count).Where(i => bad[i] is null).ToArray();
        var compact = new float[checked(kept.Length * size)];
        for (var k = 0; k < kept.Length; k++) raw.AsSpan(kept[k] * size, size).CopyTo(compact.AsSpan(k * size, size));
        return new ImageRead(compact, [.. kept.Select(i => start + i)], [.. bad.OfType<BadSample>()]);
    }

    /// <summary>
    /// Image <paramref name="index"/>'s whole file, or its range of a tar; one larger than the decoded limit is refused unread (no image
    /// format compresses that badly).
    /// </summary>
    private static async Task<byte[]> ReadFileAsync(BlobLocator locator, ImageList list, long index, long maxBytes, CancellationToken ct)
    {
        var location = list.Locations[index];
        try
        {
            if (list.Members?[index] is { } member)
            {
                if (member.Size == 0) throw BadSample.Error(location, "empty", "is empty");
                if (member.Size > maxBytes) throw BadSample.Error(location, "oversize", $"{member.Size} bytes, above Limits:MaxSampleBytes ({maxBytes})");
                return await locator.Resolve(member.Tar).ReadRangeAsync(member.Offset, (int)member.Size, ct);
            }
            var blob = locator.Resolve(location);
            if (!await blob.ExistsAsync(ct)) throw BadSample.Error(location, "missing", "does not exist");
            var length = await blob.LengthAsync(ct);
            if (length == 0) throw BadSample.Error(location, "empty", "is empty");
            if (length > maxBytes) throw BadSample.Error(location, "oversize", $"{length} bytes, above Limits:MaxSampleBytes ({maxBytes})");
            return await blob.ReadRangeAsync(0, (int)length, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw BadSample.Error(location, "unreadable", $"cannot be read: {e.Message}", e);
        }
    }
}

/// <summary>
/// A range of images as read: the kept ones' values, [kept, C, H, W]; their dataset indices (null: every image of the range was
/// kept); and the images left out, by index.
/// </summary>
public sealed record ImageRead(float[] Raw, long[]? Kept, BadSample[] Bad);
