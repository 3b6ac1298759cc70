using ExplainCluster.Contracts;
using ExplainCluster.Engine.Output;

namespace ExplainCluster.Tests.Engine;

/// <summary>The stored maps' shapes and values by hand: which maps a resolution applies to, and block means of summed channels.</summary>
public sealed class StoredMapsTests
{
    [Fact]
    public void Shape_ResolutionAppliesToMapsAtTheInputsSizeOnly()
    {
        var maps = new StoredMaps(new MapsSpec(Resolution: [56, 56]), [3, 224, 224]);
        Assert.Equal([3, 56, 56], maps.Shape([3, 224, 224]));
        Assert.Equal([56, 56], maps.Shape([224, 224]));
        Assert.Equal([7, 7], maps.Shape([7, 7])); // grad-cam at ResNet's layer4: stored as computed
        Assert.Equal([62], maps.Shape([62])); // param-grads' per-layer values
        var summed = new StoredMaps(new MapsSpec(Channels: MapChannels.Sum), [3, 224, 224]);
        Assert.Equal([224, 224], summed.Shape([3, 224, 224]));
        Assert.Equal([7, 7], summed.Shape([7, 7]));
    }

    [Fact]
    public void Reduce_SummedChannelsAtHalfWidth_AreBlockMeansOfTheSums()
    {
        // One map [2 channels, 2, 4]; channels summed: [[11, 22, 33, 44], [55, 66, 77, 88]]; to [1, 2]: blocks of 2 × 2.
        float[] map = [1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 30, 40, 50, 60, 70, 80];
        var maps = new StoredMaps(new MapsSpec(Channels: MapChannels.Sum, Resolution: [1, 2]), [2, 2, 4]);
        Assert.Equal([(11 + 22 + 55 + 66) / 4f, (33 + 44 + 77 + 88) / 4f], maps.Reduce(map, [0], [2, 2, 4]));
        var kept = new StoredMaps(new MapsSpec(Resolution: [1, 2]), [2, 2, 4]);
        Assert.Equal([(1 + 2 + 5 + 6) / 4f, (3 + 4 + 7 + 8) / 4f, (10 + 20 + 50 + 60) / 4f, (30 + 40 + 70 + 80) / 4f], kept.Reduce(map, [0], [2, 2, 4]));
        // Only the rows asked for, in their order.
        float[] two = [.. map, .. map.Select(v => -v)];
        Assert.Equal([-(11 + 22 + 55 + 66) / 4f, -(33 + 44 + 77 + 88) / 4f], maps.Reduce(two, [1], [2, 2, 4]));
    }
}
