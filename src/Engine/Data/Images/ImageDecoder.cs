using System.Globalization;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// Decodes JPEG, PNG, WebP, BMP and GIF with SkiaSharp into RGB, as torchvision's ImageFolder loader gives it
/// (<c>Image.open(f).convert("RGB")</c>): grayscale replicated into three channels, alpha dropped (not composited),
/// no colour management and no EXIF rotation (PIL applies neither). The header is read first: an image whose decoded
/// size is above the limit is refused before any pixel memory is allocated, so a crafted file declaring a huge size
/// costs nothing.
/// </summary>
public static class ImageDecoder
{
    /// <summary>What decoding <paramref name="name"/> allocates, checked against <paramref name="maxDecodedBytes"/> before it is.</summary>
    public static Pixels Decode(byte[] encoded, string name, long maxDecodedBytes)
    {
        using var codec = Open(encoded, name);
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        CheckSize(width, height, name, maxDecodedBytes);
        if (IsGray16Png(encoded))
            throw BadSample.Error(name, "unsupported",
                "16-bit grayscale PNG is not supported: torchvision's ImageFolder loader clips its values to 0–255 and SkiaSharp reads only their high byte, so the model would not see what it saw in training; convert it to 8-bit");
        var rgba = new byte[4L * width * height];
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        SKCodecResult result;
        try { result = codec.GetPixels(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul), handle.AddrOfPinnedObject()); }
        finally { handle.Free(); }
        if (result != SKCodecResult.Success)
            throw BadSample.Error(name, Kind(result), $"cannot be decoded ({Reason(result)})");
        var rgb = new byte[3L * width * height];
        for (long i = 0, n = (long)width * height; i < n; i++)
        {
            rgb[i * 3] = rgba[i * 4];
            rgb[i * 3 + 1] = rgba[i * 4 + 1];
            rgb[i * 3 + 2] = rgba[i * 4 + 2];
        }
        return new Pixels(width, height, 3, rgb);
    }

    /// <summary>A PNG whose header says 16-bit grayscale (bit depth 16, colour type 0): PIL opens it as mode "I".</summary>
    private static bool IsGray16Png(byte[] encoded) =>
        encoded.Length > 25 && encoded.AsSpan(0, 8).SequenceEqual(PngSignature) && encoded.AsSpan(12, 4).SequenceEqual("IHDR"u8)
        && encoded[24] == 16 && encoded[25] == 0;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>
    /// Refuses an image whose decoded size, pixels × 3 channels, is above <paramref name="maxDecodedBytes"/> (the RGBA
    /// buffer decoding fills is 4/3 of that, allocated only after this check).
    /// </summary>
    public static void CheckSize(int width, int height, string name, long maxDecodedBytes)
    {
        var bytes = 3L * width * height;
        if (width < 1 || height < 1) throw BadSample.Error(name, "corrupt", $"declares an empty image ({width}x{height})");
        if (bytes > maxDecodedBytes)
            throw BadSample.Error(name, "oversize",
                $"declares {width}x{height} pixels ({N(bytes)} bytes decoded as RGB), above Limits:MaxSampleBytes ({N(maxDecodedBytes)}); refused before decoding");
    }

    /// <summary>The image's size from its header alone (nothing decoded).</summary>
    public static ImageShapeHeader ReadHeader(byte[] encoded, string name)
    {
        using var codec = Open(encoded, name);
        return new ImageShapeHeader(codec.Info.Width, codec.Info.Height);
    }

    /// <summary>The codec reads the header only; it owns the stream from here.</summary>
    private static SKCodec Open(byte[] encoded, string name)
    {
        var stream = new SKMemoryStream(encoded);
        var codec = SKCodec.Create(stream, out var opened);
        if (codec is not null) return codec;
        stream.Dispose();
        throw BadSample.Error(name, Kind(opened), $"not a readable image ({Reason(opened)})");
    }

    private static string Reason(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "truncated: the file ends before the image does",
        SKCodecResult.ErrorInInput => "corrupt data in the file",
        SKCodecResult.InvalidInput or SKCodecResult.Unimplemented => "not JPEG, PNG, WebP, BMP or GIF, or a variant SkiaSharp does not read",
        SKCodecResult.CouldNotRewind => "the stream could not be rewound",
        SKCodecResult.InternalError => "the decoder failed",
        SKCodecResult.InvalidConversion => "its pixel format cannot be converted to RGB",
        SKCodecResult.InvalidScale or SKCodecResult.InvalidParameters => "the decoder refused the request",
        _ => result.ToString(),
    };

    private static string Kind(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "truncated",
        SKCodecResult.InvalidInput or SKCodecResult.Unimplemented => "unsupported",
        _ => "corrupt",
    };

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

/// <summary>An image's width and height as its header declares them.</summary>
public readonly record struct ImageShapeHeader(int Width, int Height);
