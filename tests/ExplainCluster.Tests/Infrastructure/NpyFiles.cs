using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>A local .npy output read whole, every element in order (the tests compare parts and summaries by value).</summary>
public static class NpyFiles
{
    public static async Task<float[]> ReadFloatsAsync(string path)
    {
        var file = await ArrayFile.OpenAsync(new LocalBlob(path));
        return await file.ReadFloatsAsync(0, (int)file.Header.Count);
    }

    /// <summary>An integer array in full (an index file of no rows is an empty array).</summary>
    public static Task<long[]> ReadIntegersAsync(string path) => ArrayFile.ReadIndicesAsync(new LocalBlob(path));

    /// <summary>How many samples (rows) a part holds.</summary>
    public static async Task<long> RowsAsync(string path) => (await ArrayFile.OpenAsync(new LocalBlob(path))).Header.Count;
}
