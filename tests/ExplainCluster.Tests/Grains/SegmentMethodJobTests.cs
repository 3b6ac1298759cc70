using System.Text;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Segmentation;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>lime and kernel-shap through a whole job: segments computed per shard, written, and sharding-independent.</summary>
public class SegmentMethodJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const int Samples = 40;

    private static string Job(string images, string output, int shardSize, string segments = "") => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "lime": { "samples": 64 }, "kernel-shap": { "samples": 64, "hide": "mean" } },
          "shardSize": {{shardSize}},
          "batchSize": 16,
          "output": "{{output}}" {{segments}}
        }
        """;

    [Fact]
    public async Task Run_ShardedAndSingleShard_GiveSameMapsAndSegments()
    {
        var folder = TestPaths.NewFolder();
        var (images, _) = await TestPaths.FashionMnistNpyAsync(folder, Samples);
        var single = Path.Combine(folder, "single");
        var sharded = Path.Combine(folder, "sharded");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, Job(images, single, Samples), folder)).State);
        var b = await Jobs.RunAsync(one.Grains, Job(images, sharded, 16), folder);
        Assert.Equal(JobState.Completed, b.State);
        Assert.Equal(3, b.ShardsTotal);

        foreach (var method in new[] { "lime", "kernel-shap" })
        {
            var whole = await NpyFiles.ReadFloatsAsync(Path.Combine(single, "attributions", method, "part-00000.npy"));
            var parts = new List<float>();
            for (var s = 0; s < 3; s++) parts.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", method, $"part-{s:D5}.npy")));
            Assert.Equal(Samples * 28 * 28, whole.Length);
            Assert.Contains(whole, v => v != 0);
            for (var i = 0; i < whole.Length; i++) Assert.Equal(whole[i], parts[i], 1e-4);
        }

        var (shape, labels) = ReadInt32Npy(Path.Combine(single, "segments", "part-00000.npy"));
        Assert.Equal(new long[] { Samples, 28, 28 }, shape);
        Assert.Equal(labels, Enumerable.Range(0, 3).SelectMany(s => ReadInt32Npy(Path.Combine(sharded, "segments", $"part-{s:D5}.npy")).Values));

        // Lime's quickshift on the raw image / 255 when the job names no segments, computed here directly.
        var raw = await (await ArrayFile.OpenAsync(new LocalBlob(images))).ReadBytesAsync(0, Samples);
        var expected = SegmentBatch.Run(new Quickshift(4, 200, 0.2), [.. raw.Select(v => v / 255f)], [Samples, 28, 28]);
        Assert.Equal(expected.Labels, labels);
        Assert.False(Directory.Exists(Path.Combine(single, "_attempts")));
    }

    [Fact]
    public async Task Run_GridSegments_WritesThemAndNoSegmentsWithoutASegmentMethod()
    {
        var folder = TestPaths.NewFolder();
        var (images, _) = await TestPaths.FashionMnistNpyAsync(folder, 8);
        var output = Path.Combine(folder, "grid");
        var job = Job(images, output, 8, ", \"segments\": { \"algorithm\": \"grid\", \"rows\": 2, \"cols\": 4 }");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, job, folder)).State);
        var (shape, labels) = ReadInt32Npy(Path.Combine(output, "segments", "part-00000.npy"));
        Assert.Equal(new long[] { 8, 28, 28 }, shape);
        Assert.Equal(Enumerable.Range(0, 8), labels.Distinct().Order());
        Assert.Equal(7, labels[27 + 14 * 28]); // row 14 of 28 is in the lower half (cells 4..7), column 27 in the last quarter

        var plain = Path.Combine(folder, "plain");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, null, plain), folder)).State);
        Assert.False(Directory.Exists(Path.Combine(plain, "segments")));
    }

    [Theory]
    [InlineData("\"segments\": { \"algorithm\": \"grid\", \"rows\": 2 }", "segments.cols: missing")]
    [InlineData("\"segments\": { \"algorithm\": \"slic\", \"segments\": 0 }", "segments.segments: expected an integer from 1 to 65536")]
    [InlineData("\"segments\": [1]", "segments: expected an object")]
    public void Parse_BadSegments_IsOneLineNamingTheField(string segments, string message)
    {
        var error = Assert.Throws<ExplainException>(() => JobFile.Parse(Job("in.npy", "out", 8, ", " + segments), "/tmp"));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Parse_Segments_AreKeptInTheSpec()
    {
        var spec = JobFile.Parse(Job("in.npy", "out", 8, ", \"segments\": { \"algorithm\": \"slic\", \"segments\": 20 }"), "/tmp");
        Assert.Equal(SegmentsSpec.Slic(20), spec.Segments);
        Assert.Equal(SegmentsSpec.Slic(20), JobSegments.For(spec));
        Assert.Equal(SegmentsSpec.Default, JobSegments.For(JobFile.Parse(Job("in.npy", "out", 8), "/tmp")));
    }

    /// <summary>An int32 .npy read by hand: its shape and values.</summary>
    private static (long[] Shape, int[] Values) ReadInt32Npy(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToUInt16(bytes, 8);
        var header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.Contains("'descr': '<i4'", header);
        var dims = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..];
        long[] shape = [.. dims[..dims.IndexOf(')')].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse)];
        var values = new int[(bytes.Length - 10 - headerLength) / 4];
        Buffer.BlockCopy(bytes, 10 + headerLength, values, 0, values.Length * 4);
        return (shape, values);
    }
}
