using System.Text.Json;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.Compare;

/// <summary>A completed job's outputs, read for a comparison: its manifest and summary, its predictions and its maps by sample.</summary>
public sealed class RunOutputs
{
    private RunOutputs(IBlob folder, Manifest manifest, Summary summary) => (Folder, Manifest, Summary) = (folder, manifest, summary);

    public IBlob Folder { get; }

    public Manifest Manifest { get; }

    public Summary Summary { get; }

    /// <param name="side">"baseline" or "candidate": the errors say which of the two is wrong.</param>
    /// <param name="finishing">The run is the job now completing: its manifest still says running.</param>
    public static async Task<RunOutputs> OpenAsync(BlobLocator locator, string location, string side, CancellationToken ct = default, bool finishing = false)
    {
        var folder = locator.Resolve(location);
        var manifest = await ReadAsync<Manifest>(folder.Child(OutputLayout.Manifest), side, ct);
        if (manifest.Status != Manifest.Completed && !finishing)
            throw new ExplainException($"{side}: {Redaction.Location(location)} holds a job that is {manifest.Status}, not completed");
        var summary = await ReadAsync<Summary>(folder.Child(OutputLayout.Summary), side, ct);
        // Its parts are read by position in each shard's range, which a run that skipped unreadable images does not fill.
        if (summary.Section<Data.Images.BadSamplesSummary>(Data.Images.BadSamplesFeature.Instance.Section) is { Skipped: > 0 } bad)
            throw new ExplainException($"{side}: {Redaction.Location(location)} skipped {bad.Skipped} unreadable images (\"onBadSample\": \"skip\"); comparing such a run is not supported yet");
        return new RunOutputs(folder, manifest, summary);
    }

    /// <summary>Every sample's prediction and label (−1 without one), in sample order.</summary>
    public Task<(int[] Prediction, int[] Label)> PredictionsAsync(CancellationToken ct = default) => PredictionsAsync(0, Manifest.Samples, ct);

    /// <summary>The predictions and labels (−1 without one) of samples [<paramref name="start"/>, start + count), reading only the parts they are in.</summary>
    public async Task<(int[] Prediction, int[] Label)> PredictionsAsync(long start, long count, CancellationToken ct = default)
    {
        var (prediction, label) = (new int[count], new int[count]);
        await ForEachPartAsync(start, count, async (group, fields, partStart, n) =>
        {
            var (predictions, labels) = (new int[n], new int?[n]);
            await group.ReadAsync(fields.Single(f => f.Name == "prediction"), predictions.AsMemory(), cancellationToken: ct);
            await group.ReadAsync(fields.Single(f => f.Name == "label"), labels.AsMemory(), cancellationToken: ct);
            foreach (var (from, to) in Overlap(partStart, n, start, count))
            {
                prediction[to] = predictions[from];
                label[to] = labels[from] ?? -1;
            }
            return true;
        }, ct);
        return (prediction, label);
    }

    /// <summary>A float column's values of samples [<paramref name="start"/>, start + count) (NaN where null); null when a part lacks it.</summary>
    public async Task<double[]?> ColumnAsync(string name, long start, long count, CancellationToken ct = default)
    {
        var values = new double[count];
        var found = await ForEachPartAsync(start, count, async (group, fields, partStart, n) =>
        {
            if (fields.FirstOrDefault(f => f.Name == name) is not { } field || field.ClrType != typeof(float)) return false;
            var read = new float?[n];
            if (field.IsNullable) await group.ReadAsync(field, read.AsMemory(), cancellationToken: ct);
            else
            {
                var plain = new float[n];
                await group.ReadAsync(field, plain.AsMemory(), cancellationToken: ct);
                for (var i = 0; i < n; i++) read[i] = plain[i];
            }
            foreach (var (from, to) in Overlap(partStart, n, start, count)) values[to] = read[from] ?? double.NaN;
            return true;
        }, ct);
        return found ? values : null;
    }

    /// <summary>Row in a part starting at <paramref name="partStart"/> with <paramref name="n"/> rows → index in the range [start, start + count), where both hold it.</summary>
    private static IEnumerable<(int From, long To)> Overlap(long partStart, int n, long start, long count)
    {
        var (first, last) = (Math.Max(partStart, start), Math.Min(partStart + n, start + count));
        for (var i = first; i < last; i++) yield return ((int)(i - partStart), i - start);
    }

    /// <summary>
    /// Reads, in shard order, each shard's samples part that holds samples of [<paramref name="start"/>, start + count); false when
    /// <paramref name="read"/> said a part lacks what it wants.
    /// </summary>
    private async Task<bool> ForEachPartAsync(long start, long count, Func<ParquetRowGroupReader, DataField[], long, int, Task<bool>> read, CancellationToken ct)
    {
        foreach (var shard in Manifest.Shards.Where(s => s.Start < start + count && start < s.Start + s.Count))
        {
            await using var stream = await Folder.Child(OutputLayout.SamplesPart(shard.Index)).OpenReadAsync(ct);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, ct);
            copy.Position = 0;
            await using var reader = await ParquetReader.CreateAsync(copy, cancellationToken: ct);
            using var group = reader.OpenRowGroupReader(0);
            if (!await read(group, reader.Schema.GetDataFields(), shard.Start, (int)group.RowCount)) return false;
        }
        return true;
    }

    /// <summary>A method's maps by sample, read a shard's part at a time (samples asked for in ascending order read each part once).</summary>
    public Task<MapRows> MapsAsync(string method, CancellationToken ct = default) => MapsAsync(method, 0, Manifest.Samples, ct);

    /// <summary>A method's maps of samples [<paramref name="start"/>, start + count) (the rows of others may not be found).</summary>
    public async Task<MapRows> MapsAsync(string method, long start, long count, CancellationToken ct = default)
    {
        var stats = Summary.Methods[method];
        Dictionary<long, (int Shard, int Row)>? rows = null;
        if (await Folder.Child(OutputLayout.AttributionIndex(method, Manifest.Shards[0].Index)).ExistsAsync(ct))
        {
            // A method with a subset: each part's index file says which samples its rows are.
            rows = [];
            foreach (var shard in Manifest.Shards.Where(s => s.Start < start + count && start < s.Start + s.Count))
            {
                var blob = Folder.Child(OutputLayout.AttributionIndex(method, shard.Index));
                if (!await blob.ExistsAsync(ct)) continue;
                var indices = await ArrayFile.ReadIndicesAsync(blob, ct);
                for (var r = 0; r < indices.Length; r++) rows[indices[r]] = (shard.Index, r);
            }
        }
        if (!StoresMaps) throw new ExplainException($"{Redaction.Location(Folder.Location)} stored no maps (\"maps\": {{\"store\": \"none\"}}); its maps cannot be compared");
        return new MapRows(this, method, StoredShape(method).Aggregate(1, (a, b) => a * b), rows);
    }

    /// <summary>Whether the run wrote its maps (<c>"maps": {"store": "none"}</c> writes none).</summary>
    public bool StoresMaps => StoredMaps.Of(Manifest).Stored;

    /// <summary>The shape of a method's maps as the run stored them (<see cref="StoredMaps"/>: channels summed, resolution reduced).</summary>
    public int[] StoredShape(string method) => StoredMaps.Of(Manifest).Shape(Summary.Methods[method].MapShape);

    private static async Task<T> ReadAsync<T>(IBlob blob, string side, CancellationToken ct)
    {
        if (!await blob.ExistsAsync(ct)) throw new ExplainException($"{side}: {Redaction.Location(blob.Location)} does not exist; is this a job's output?");
        await using var stream = await blob.OpenReadAsync(ct);
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(stream, Manifest.Json, ct) ?? throw new ExplainException($"{side}: {Redaction.Location(blob.Location)} is empty");
        }
        catch (JsonException e)
        {
            throw new ExplainException($"{side}: {Redaction.Location(blob.Location)} is not ExplainCluster's ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>One method's maps of one run, by sample index.</summary>
    public sealed class MapRows(RunOutputs run, string method, int size, Dictionary<long, (int Shard, int Row)>? subset)
    {
        private readonly long[] _starts = [.. run.Manifest.Shards.Select(s => s.Start)];
        private int _shard = -1;
        private float[] _part = [];

        /// <summary>Values per map.</summary>
        public int Size => size;

        /// <summary>The sample's map; null when the method did not explain it (outside its subset).</summary>
        public async Task<ReadOnlyMemory<float>?> RowAsync(long sample, CancellationToken ct = default)
        {
            int shard, row;
            if (subset is not null)
            {
                if (!subset.TryGetValue(sample, out var at)) return null;
                (shard, row) = at;
            }
            else
            {
                var found = Array.BinarySearch(_starts, sample);
                var s = run.Manifest.Shards[found >= 0 ? found : ~found - 1];
                (shard, row) = (s.Index, (int)(sample - s.Start));
            }
            if (shard != _shard)
            {
                var file = await ArrayFile.OpenAsync(run.Folder.Child(OutputLayout.AttributionPart(method, shard)), ct);
                (_part, _shard) = (await file.ReadFloatsAsync(0, (int)file.Header.Count, ct), shard);
            }
            return _part.AsMemory(row * size, size);
        }
    }
}
