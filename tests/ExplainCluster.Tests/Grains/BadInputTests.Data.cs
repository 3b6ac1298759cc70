using System.IO.Compression;
using System.Text;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Bad data files: each fails the job with one line naming the file and what is wrong with it.</summary>
public partial class BadInputTests
{
    /// <summary>A .npy version 1.0 file with this header dictionary and <paramref name="bodyBytes"/> zero bytes of data.</summary>
    private static byte[] Npy(string descr, string shape, int bodyBytes, bool fortran = false)
    {
        var text = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";
        text = text.PadRight(((10 + text.Length + 1 + 63) / 64 * 64) - 10 - 1) + "\n";
        byte[] head = [0x93, .. "NUMPY"u8, 1, 0, (byte)text.Length, (byte)(text.Length >> 8), .. Encoding.ASCII.GetBytes(text)];
        return [.. head, .. new byte[bodyBytes]];
    }

    /// <summary>An IDX uint8 file [count, 28, 28] of seeded random pixels (which gzip cannot shrink).</summary>
    private static byte[] Idx(int count, int promised)
    {
        var pixels = new byte[count * 784];
        new Random(7).NextBytes(pixels);
        return [0, 0, 8, 3, (byte)(promised >> 24), (byte)(promised >> 16), (byte)(promised >> 8), (byte)promised, 0, 0, 0, 28, 0, 0, 0, 28, .. pixels];
    }

    private static byte[] Gzip(byte[] bytes)
    {
        var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(bytes);
        return buffer.ToArray();
    }

    /// <summary>A job over inputs <paramref name="name"/> holding <paramref name="bytes"/>; its one-line error.</summary>
    private async Task<string> RunBadInputsAsync(string name, byte[] bytes) => (await RunBadAsync(async f =>
    {
        var path = Path.Combine(f, name);
        await File.WriteAllBytesAsync(path, bytes);
        return TestPaths.FashionJob(path, null, Path.Combine(f, "out"));
    })).Status.Error!;

    /// <summary>A job over ten good images and labels <paramref name="name"/> holding <paramref name="bytes"/>; its one-line error.</summary>
    private async Task<string> RunBadLabelsAsync(string name, byte[] bytes) => (await RunBadAsync(async f =>
    {
        var (images, _) = await TestPaths.FashionMnistNpyAsync(f, 10);
        var path = Path.Combine(f, name);
        await File.WriteAllBytesAsync(path, bytes);
        return TestPaths.FashionJob(images, path, Path.Combine(f, "out"));
    })).Status.Error!;

    [Theory]
    [InlineData("|u1", "(-5, 28, 28)", 3920, false, "bad.npy: .npy shape (-5, 28, 28) has a negative dimension")]
    [InlineData("|u1", "(10, 0, 28)", 0, false, "bad.npy: shape [10, 0, 28] has a zero dimension: its samples hold no elements")]
    [InlineData("|u1", "(10, 28.5, 28)", 7840, false, "bad.npy: .npy shape (10, 28.5, 28) has '28.5', which is not a dimension")]
    [InlineData("|u1", "(99999999999999999999, 28, 28)", 784, false, "bad.npy: .npy shape (99999999999999999999, 28, 28) has '99999999999999999999', which is not a dimension")]
    [InlineData("|u1", "(10, 100000, 100000)", 7840, false,
        "bad.npy is truncated: its header promises shape [10, 100000, 100000], 100000000128 bytes, but the file holds 7968")]
    [InlineData("|u1", "(4611686018427387904, 4611686018427387904, 28)", 784, false,
        "bad.npy: shape [4611686018427387904, 4611686018427387904, 28] is absurd (more than 2^63 bytes); the file holds 912 bytes")]
    [InlineData("<c8", "(10, 28, 28)", 62720, false, "bad.npy: dtype '<c8' is not supported")]
    [InlineData("|O", "(10, 28, 28)", 62720, false, "bad.npy: dtype '|O' is not supported")]
    [InlineData("|b1", "(10, 28, 28)", 7840, false, "bad.npy: dtype '|b1' is not supported")]
    [InlineData(">f4", "(10, 28, 28)", 31360, false, "bad.npy: big-endian dtype '>f4' is not supported; save little-endian")]
    [InlineData("<f4", "(10, 28, 28)", 31360, true, "bad.npy: Fortran-order arrays are not supported")]
    public async Task Run_BadNpyHeader_NamesFileAndProblem(string descr, string shape, int bodyBytes, bool fortran, string expected)
    {
        var error = await RunBadInputsAsync("bad.npy", Npy(descr, shape, bodyBytes, fortran));
        Assert.Contains(expected, error);
    }

    [Fact]
    public async Task Cli_NegativeNpyDimension_ExitsOneWithOneErrorLine()
    {
        var folder = TestPaths.NewFolder();
        var inputs = Path.Combine(folder, "bad.npy");
        await File.WriteAllBytesAsync(inputs, Npy("|u1", "(-5, 28, 28)", 3920));
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(inputs, null, Path.Combine(folder, "out")));
        var (exit, _, error) = await ConsoleCollection.RunCliAsync("run", job);
        Assert.Equal(1, exit);
        Assert.Equal($"error: {inputs}: .npy shape (-5, 28, 28) has a negative dimension", error.TrimEnd());
    }

    [Fact]
    public async Task Run_IdxWithWrongMagic_SaysNeitherFormat()
    {
        byte[] bytes = [0x08, 0x03, 0, 0, .. Idx(10, 10)[4..]];
        Assert.EndsWith("bad.idx is neither .npy nor IDX", await RunBadInputsAsync("bad.idx", bytes));
    }

    [Fact]
    public async Task Run_IdxWithHugeDimension_SaysTruncatedWithShape()
    {
        var error = await RunBadInputsAsync("bad.idx", Idx(10, unchecked((int)0xFFFFFFFF)));
        Assert.Contains("bad.idx is truncated: its header promises shape [4294967295, 28, 28]", error);
    }

    [Fact]
    public async Task Run_TruncatedGzip_SaysTruncated()
    {
        var gz = Gzip(Idx(300, 300));
        var error = await RunBadInputsAsync("bad.gz", gz[..(gz.Length * 6 / 10)]);
        Assert.Contains("bad.gz: the gzip stream ends before the 235216 bytes its header promises", error);
    }

    [Fact]
    public async Task Run_GzipPromisingMoreThanDeflateCanHold_SaysTruncatedAtOnce()
    {
        var gz = Gzip(Idx(10, unchecked((int)0xFFFFFFFF)));
        var error = await RunBadInputsAsync("bad.gz", gz);
        Assert.EndsWith(
            $"bad.gz is truncated: its header promises shape [4294967295, 28, 28], {16 + 4294967295L * 784} bytes, more than a gzip stream of {gz.Length} bytes can hold",
            error);
    }

    [Fact]
    public async Task Run_GzipLongerThanItsHeader_SaysSo()
    {
        var error = await RunBadInputsAsync("bad.gz", Gzip(Idx(200, 100)));
        Assert.Contains("bad.gz: the gzip stream holds more than the 78416 bytes its header promises", error);
    }

    [Fact]
    public async Task Run_CorruptGzip_SaysCorrupt()
    {
        var gz = Gzip(Idx(300, 300));
        for (var i = 20; i < gz.Length; i += 7) gz[i] ^= 0x5a;
        var error = await RunBadInputsAsync("bad.gz", gz);
        Assert.Contains("bad.gz: the gzip stream is corrupt", error);
    }

    [Fact]
    public async Task Run_FloatLabels_SayLabelsMustBeIntegers()
    {
        var error = await RunBadLabelsAsync("labels.npy", NpyFormat.Encode(Enumerable.Range(0, 10).Select(i => i * 0.5f).ToArray(), [10]));
        Assert.EndsWith("labels.npy: labels must be integers, not float32", error);
    }

    [Fact]
    public async Task Run_NaNLabels_SayLabelsMustBeIntegers()
    {
        var values = new float[10];
        values[4] = float.NaN;
        var error = await RunBadLabelsAsync("labels.npy", NpyFormat.Encode(values, [10]));
        Assert.EndsWith("labels.npy: labels must be integers, not float32", error);
    }

    [Fact]
    public async Task Run_Float64Labels_NameTheDtype()
    {
        var error = await RunBadLabelsAsync("labels.npy", Npy("<f8", "(10,)", 80));
        Assert.EndsWith("labels.npy: dtype '<f8' is not supported (uint8, float32 or integer labels)", error);
    }
}
