using ExplainCluster.Engine.Data;

namespace ExplainCluster.Tests.Infrastructure;

public static class TestPaths
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    public static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist", name);

    /// <summary>The folder every test's files go under.</summary>
    public static string Root => Path.Combine(Path.GetTempPath(), "explaincluster-tests");

    public static string NewFolder()
    {
        var path = Path.Combine(Root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The first <paramref name="count"/> Fashion-MNIST test images and labels as .npy files in <paramref name="folder"/>.</summary>
    public static async Task<(string Images, string Labels)> FashionMnistNpyAsync(string folder, int count)
    {
        var images = await ArrayFile.OpenAsync(new ExplainCluster.Engine.Storage.LocalBlob(Sample("t10k-images-idx3-ubyte")));
        var labels = await ArrayFile.OpenAsync(new ExplainCluster.Engine.Storage.LocalBlob(Sample("t10k-labels-idx1-ubyte")));
        var imagePath = Path.Combine(folder, "images.npy");
        var labelPath = Path.Combine(folder, "labels.npy");
        await File.WriteAllBytesAsync(imagePath, NpyFormat.Encode(await images.ReadBytesAsync(0, count), [count, 28, 28]));
        await File.WriteAllBytesAsync(labelPath, NpyFormat.Encode(await labels.ReadIntegersAsync(0, count), [count]));
        return (imagePath, labelPath);
    }

    public static string FashionJob(string images, string? labels, string output, int shardSize = 1024, string extra = "", string? model = null, string layer = "10", string? methods = null) => $$"""
        {
          "name": "fmnist-test",
          "model": { "uri": "{{model ?? Sample("model.pt")}}", "classes": ["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"] },
          "data": { "inputs": "{{images}}" {{(labels is null ? "" : $", \"labels\": \"{labels}\"")}},
                    "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": {{methods ?? "{ \"saliency\": {}, \"grad-x-input\": {}, \"grad-cam\": { \"layer\": \"" + layer + "\" } }"}},
          "shardSize": {{shardSize}},
          "output": "{{output}}" {{extra}}
        }
        """;
}
