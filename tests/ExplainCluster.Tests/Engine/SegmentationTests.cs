using System.Runtime.InteropServices;
using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Segmentation;
using ExplainCluster.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Xunit.Abstractions;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// The segmenters against scikit-image 0.19's labels for the same images (tests/fixtures/segments, made by
/// tools/make_segments.py), compared by adjusted Rand index since label numbers are arbitrary.
/// </summary>
public class SegmentationTests(ITestOutputHelper output)
{
    // Measured on every fixture image: SLIC 1.0000 (the same labels); quickshift with lime's parameters
    // 1.0000; the fine quickshift 0.885 to 1.0, lowest where Fashion-MNIST's flat black background leaves
    // densities exactly tied and only the tie-breaking noise (NumPy's there, ours here) orders them.
    // scikit-image against itself with seeds 0-9 goes as low as 0.837 there (tools/make_segments.py
    // prints this), so 0.8 asks for no more than skimage's own spread; elsewhere nothing is tied.
    private const double TiedMinAri = 0.8;
    private const double MinAri = 0.99;

    public static TheoryData<string, string, double> QuickshiftFixtures => new()
    {
        { "fmnist", "quickshift", MinAri },
        { "fmnist", "quickshift_fine", TiedMinAri },
        { "photos", "quickshift", MinAri },
        { "photos", "quickshift_fine", MinAri },
    };

    [Theory]
    [MemberData(nameof(QuickshiftFixtures))]
    public void Quickshift_FixtureImages_AgreeWithScikitImage(string images, string variant, double minAri)
    {
        var segmenter = variant == "quickshift" ? SegmenterRegistry.Create(SegmentsSpec.Default) : new Quickshift(2, 6, 0.5);
        AssertAgrees(segmenter, images, variant, minAri);
    }

    [Theory]
    [InlineData("fmnist")]
    [InlineData("photos")]
    public void Slic_FixtureImages_AgreeWithScikitImage(string images) =>
        AssertAgrees(SegmenterRegistry.Create(SegmentsSpec.Slic()), images, "slic", MinAri);

    private void AssertAgrees(ISegmenter segmenter, string images, string variant, double minAri)
    {
        var (values, shape) = Fixture<float>($"{images}_images.npy");
        var (expected, labelShape) = Fixture<int>($"{images}_{variant}.npy");
        var batch = SegmentBatch.Run(segmenter, values, shape);
        var pixels = labelShape[1] * labelShape[2];
        for (var i = 0; i < labelShape[0]; i++)
        {
            var ours = batch.Labels.AsSpan(i * pixels, pixels);
            var theirs = expected.AsSpan(i * pixels, pixels);
            var ari = AdjustedRandIndex(ours, theirs);
            var theirCount = theirs.ToArray().Max() + 1;
            output.WriteLine($"{images}[{i}] {variant}: ARI {ari:F4}, segments {batch.Counts[i]} vs {theirCount}");
            Assert.True(ari >= minAri, $"{images}[{i}] {variant}: adjusted Rand index {ari:F4} < {minAri}");
            // skimage's own counts move by one between seeds on the tied images.
            Assert.InRange(batch.Counts[i], theirCount - Math.Max(1, theirCount / 20), theirCount + Math.Max(1, theirCount / 20));
        }
    }

    [Fact]
    public void RegularGrid_ScikitImageDocstringExamples_SameSlices()
    {
        // skimage.util.regular_grid's docstring: (20, 40) with 8 and 32 points, (3, 20, 40) with 8.
        Assert.Equal([(5, 10), (5, 10)], Slic.RegularGrid([20, 40], 8));
        Assert.Equal([(2, 5), (2, 5)], Slic.RegularGrid([20, 40], 32));
        Assert.Equal([(1, 3), (5, 10), (5, 10)], Slic.RegularGrid([3, 20, 40], 8));
        Assert.Equal([(0, 1), (0, 1)], Slic.RegularGrid([4, 5], 20));
    }

    [Fact]
    public void Grid_SevenByFiveInThreeRowsTwoCols_CutsAsNumpyArraySplit()
    {
        // array_split(7 rows, 3) = 3 + 2 + 2; array_split(5 columns, 2) = 3 + 2.
        int[] expected =
        [
            0, 0, 0, 1, 1,
            0, 0, 0, 1, 1,
            0, 0, 0, 1, 1,
            2, 2, 2, 3, 3,
            2, 2, 2, 3, 3,
            4, 4, 4, 5, 5,
            4, 4, 4, 5, 5,
        ];
        var labels = new int[35];
        var k = SegmenterRegistry.Create(SegmentsSpec.Grid(3, 2)).Segment(new float[35], 1, 7, 5, labels);
        Assert.Equal(6, k);
        Assert.Equal(expected, labels);
    }

    [Fact]
    public void Grid_MoreRowsThanPixels_IsAnErrorNamingRows()
    {
        var e = Assert.Throws<ExplainException>(() => new Grid(8, 1).Segment(new float[35], 1, 7, 5, new int[35]));
        Assert.StartsWith("segments.rows:", e.Message);
    }

    public static TheoryData<string> AllAlgorithms => new() { "quickshift", "quickshift-fine", "slic", "grid" };

    private static ISegmenter Make(string name) => name switch
    {
        "quickshift" => SegmenterRegistry.Create(SegmentsSpec.Default),
        "quickshift-fine" => new Quickshift(2, 6, 0.5),
        "slic" => SegmenterRegistry.Create(SegmentsSpec.Slic()),
        _ => SegmenterRegistry.Create(SegmentsSpec.Grid(4, 5)),
    };

    [Theory]
    [MemberData(nameof(AllAlgorithms))]
    public void Segment_Photos_IdsContiguousInFirstAppearanceOrderAndDeterministic(string algorithm)
    {
        var (values, shape) = Fixture<float>("photos_images.npy");
        var first = SegmentBatch.Run(Make(algorithm), values, shape);
        var again = SegmentBatch.Run(Make(algorithm), values, shape, maxDegreeOfParallelism: 1);
        Assert.Equal(first.Labels, again.Labels);
        Assert.Equal(first.Counts, again.Counts);
        var pixels = first.Height * first.Width;
        for (var i = 0; i < shape[0]; i++)
        {
            var next = 0;
            foreach (var id in first.Labels.AsSpan(i * pixels, pixels))
            {
                Assert.InRange(id, 0, next);
                if (id == next) next++;
            }
            Assert.Equal(first.Counts[i], next);
        }
    }

    [Theory]
    [MemberData(nameof(AllAlgorithms))]
    public void Segment_GrayscaleImage_EqualsItsRgbReplicate(string algorithm)
    {
        var (gray, shape) = Fixture<float>("fmnist_images.npy");
        var pixels = shape[1] * shape[2];
        var rgb = new float[gray.Length * 3];
        for (var i = 0; i < shape[0]; i++)
            for (var c = 0; c < 3; c++) gray.AsSpan(i * pixels, pixels).CopyTo(rgb.AsSpan((3 * i + c) * pixels, pixels));
        var fromGray = SegmentBatch.Run(Make(algorithm), gray, shape);
        var fromGrayWithChannel = SegmentBatch.Run(Make(algorithm), gray, [shape[0], 1, shape[1], shape[2]]);
        var fromRgb = SegmentBatch.Run(Make(algorithm), rgb, [shape[0], 3, shape[1], shape[2]]);
        Assert.Equal(fromRgb.Labels, fromGray.Labels);
        Assert.Equal(fromRgb.Labels, fromGrayWithChannel.Labels);
        Assert.Equal(fromRgb.Counts, fromGray.Counts);
    }

    [Fact]
    public void Batch_InParallel_EqualsImageByImage()
    {
        var (values, shape) = Fixture<float>("photos_images.npy");
        var segmenter = new Quickshift(2, 6, 0.5);
        var batch = SegmentBatch.Run(segmenter, values, shape);
        var imageSize = shape[1] * shape[2] * shape[3];
        var pixels = shape[2] * shape[3];
        for (var i = 0; i < shape[0]; i++)
        {
            var labels = new int[pixels];
            var k = segmenter.Segment(values.AsSpan(i * imageSize, imageSize), shape[1], shape[2], shape[3], labels);
            Assert.Equal(k, batch.Counts[i]);
            Assert.Equal(labels, batch.Labels.AsSpan(i * pixels, pixels).ToArray());
        }
    }

    [Fact]
    public void Parse_Defaults_AreLimesQuickshiftAndTheJobFilesSlic()
    {
        Assert.Equal(new SegmentsSpec("quickshift", 4, 200, 0.2), Parse("""{"algorithm": "quickshift"}"""));
        Assert.Equal(SegmentsSpec.Slic(50, 10), Parse("""{"algorithm": "slic"}"""));
        Assert.Equal(SegmentsSpec.Slic(120, 0.5), Parse("""{"algorithm": "slic", "segments": 120, "compactness": 0.5}"""));
        Assert.Equal(SegmentsSpec.Grid(3, 2), Parse("""{"algorithm": "grid", "rows": 3, "cols": 2}"""));
        Assert.Equal(SegmentsSpec.Quickshift(2, 6, 0.5), Parse("""{"algorithm": "quickshift", "kernelSize": 2, "maxDist": 6, "ratio": 0.5}"""));
    }

    [Fact]
    public void SegmentsSpec_OrleansSerializer_RoundTripsEveryOption()
    {
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var spec = new SegmentsSpec("grid", 3, 150, 0.4, 60, 12, 3, 2);
        Assert.Equal(spec, serializer.Deserialize<SegmentsSpec>(serializer.SerializeToArray(spec)));
    }

    [Theory]
    [InlineData("""[]""", "segments:")]
    [InlineData("""{"kernelSize": 4}""", "segments.algorithm:")]
    [InlineData("""{"algorithm": "felzenszwalb"}""", "segments.algorithm:")]
    [InlineData("""{"algorithm": 3}""", "segments.algorithm:")]
    [InlineData("""{"algorithm": "quickshift", "kernelSize": 0}""", "segments.kernelSize:")]
    [InlineData("""{"algorithm": "quickshift", "kernelSize": "4"}""", "segments.kernelSize:")]
    [InlineData("""{"algorithm": "quickshift", "maxDist": 0}""", "segments.maxDist:")]
    [InlineData("""{"algorithm": "quickshift", "ratio": 1.5}""", "segments.ratio:")]
    [InlineData("""{"algorithm": "quickshift", "segments": 50}""", "segments.segments:")]
    [InlineData("""{"algorithm": "slic", "segments": 2.5}""", "segments.segments:")]
    [InlineData("""{"algorithm": "slic", "segments": 0}""", "segments.segments:")]
    [InlineData("""{"algorithm": "slic", "compactness": -1}""", "segments.compactness:")]
    [InlineData("""{"algorithm": "slic", "kernelSize": 4}""", "segments.kernelSize:")]
    [InlineData("""{"algorithm": "grid", "rows": 3}""", "segments.cols:")]
    [InlineData("""{"algorithm": "grid", "rows": 0, "cols": 2}""", "segments.rows:")]
    [InlineData("""{"algorithm": "grid", "rows": 3, "cols": 2, "colz": 1}""", "segments.colz:")]
    public void Parse_BadOptions_OneLineNamingTheField(string json, string field)
    {
        var e = Assert.Throws<ExplainException>(() => Parse(json));
        Assert.StartsWith(field, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AdjustedRandIndex_HandExamples_MatchTheFormula()
    {
        // Pairs: same/same 1, same/different 1, different/same 0 → ARI = (1 − 2·1/6) / (1.5 − 2·1/6) = 4/7.
        Assert.Equal(4.0 / 7, AdjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2]), 12);
        Assert.Equal(1.0, AdjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0]), 12);
        Assert.Equal(-0.5, AdjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]), 12);
        Assert.Equal(0.0, AdjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3]), 12);
    }

    private static SegmentsSpec Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return SegmentsOptions.Parse(doc.RootElement);
    }

    /// <summary>Hubert and Arabie's adjusted Rand index; two one-segment labellings (no pairs to disagree on) count as 1.</summary>
    private static double AdjustedRandIndex(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        var pairs = new Dictionary<(int, int), long>();
        var rows = new Dictionary<int, long>();
        var cols = new Dictionary<int, long>();
        for (var i = 0; i < a.Length; i++)
        {
            pairs[(a[i], b[i])] = pairs.GetValueOrDefault((a[i], b[i])) + 1;
            rows[a[i]] = rows.GetValueOrDefault(a[i]) + 1;
            cols[b[i]] = cols.GetValueOrDefault(b[i]) + 1;
        }
        static double Choose2(long n) => n * (n - 1) / 2.0;
        var index = pairs.Values.Sum(Choose2);
        double sumA = rows.Values.Sum(Choose2), sumB = cols.Values.Sum(Choose2);
        var expected = sumA * sumB / Choose2(a.Length);
        var maximum = (sumA + sumB) / 2;
        return maximum == expected ? (index == maximum ? 1.0 : 0.0) : (index - expected) / (maximum - expected);
    }

    private static (T[] Values, int[] Shape) Fixture<T>(string name) where T : struct
    {
        var path = TestPaths.Fixture(Path.Combine("segments", name));
        var bytes = File.ReadAllBytes(path);
        var header = NpyFormat.ParseHeader(bytes, path);
        var values = MemoryMarshal.Cast<byte, T>(bytes.AsSpan((int)header.DataOffset)).ToArray();
        return (values, [.. header.Shape.Select(d => (int)d)]);
    }
}
