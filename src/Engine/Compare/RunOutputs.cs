using System.Collections.Concurrent;
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
    private readonly ConcurrentDictionary<int, Task<long[]?>> _kept = new();

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
        return new RunOutputs(folder, manifest, summary);
    }

    /// <summary>How many images the run skipped as unreadable (<c>"onBadSample": "skip"</c>): they have no row in its parts.</summary>
    public long Skipped => Summary.Section<Data.Images.BadSamplesSummary>(Data.Images.BadSamplesFeature.Instance.Section)?.Skipped ?? 0;

    /// <summary>
    /// The dataset indices of a shard's rows when the run skipped some of its range (its errors table lists them); null when
    /// row i is index Start + i (<see cref="Jobs.SampleRows"/>).
    /// </summary>
    public Task<long[]?> KeptAsync(ManifestShard shard, CancellationToken ct = default) =>
        Skipped == 0 ? Task.FromResult<long[]?>(null) : _kept.GetOrAdd(shard.Index, _ => KeptOfAsync(shard, ct));

    private async Task<long[]?> KeptOfAsync(ManifestShard shard, CancellationToken ct)
    {
        var bad = (await SkippedInAsync(shard, ct)).ToHashSet();
        return bad.Count == 0 ? null : [.. Enumerable.Range(0, (int)shard.Count).Select(i => shard.Start + i).Where(i => !bad.Contains(i))];
    }

    /// <summary>The dataset indices the run skipped, ascending (read from its errors tables; none when it skipped none).</summary>
    public async Task<long[]> SkippedIndicesAsync(CancellationToken ct = default)
    {
        if (Skipped == 0) return [];
        var all = new List<long>();
        foreach (var shard in Manifest.Shards) all.AddRange(await SkippedInAsync(shard, ct));
        return [.. all.Order()];
    }

    private async Task<long[]> SkippedInAsync(ManifestShard shard, CancellationToken ct)
    {
        var blob = Folder.Child(OutputLayout.ErrorsPart(shard.Index));
        if (!await blob.ExistsAsync(ct)) return [];
        await using var reader = await ParquetReader.CreateAsync(await CopyAsync(blob, ct), cancellationToken: ct);
        if (reader.RowGroupCount == 0) return [];
        using var group = reader.OpenRowGroupReader(0);
        var index = new long[group.RowCount];
        await group.ReadAsync(reader.Schema.GetDataFields().Single(f => f.Name == "index"), index.AsMemory(), cancellationToken: ct);
        return index;
    }

    private static async Task<MemoryStream> CopyAsync(IBlob blob, CancellationToken ct)
    {
        await using var stream = await blob.OpenReadAsync(ct);
        var copy = new MemoryStream();
        await stream.CopyToAsync(copy, ct);
        copy.Position = 0;
        return copy;
    }

    /// <summary>Every sample's prediction and label (−1 without one), in sample order.</summary>
    public Task<(int[] Prediction, int[] Label)> PredictionsAsync(CancellationToken ct = default) => PredictionsAsync(0, Manifest.Samples, ct);

    /// <summary>
    /// The predictions and labels (−1 without one) of samples [<paramref name="start"/>, start + count), reading only the parts they
    /// are in; both −1 for a sample the run skipped.
    /// </summary>
    public async Task<(int[] Prediction, int[] Label)> PredictionsAsync(long start, long count, CancellationToken ct = default)
    {
        var (prediction, label) = (new int[count], new int[count]);
        Array.Fill(prediction, -1);
        Array.Fill(label, -1);
        await ForEachPartAsync(start, count, async (group, fields, rows, n) =>
        {
            var (predictions, labels) = (new int[n], new int?[n]);
            await group.ReadAsync(fields.Single(f => f.Name == "prediction"), predictions.AsMemory(), cancellationToken: ct);
            await group.ReadAsync(fields.Single(f => f.Name == "label"), labels.AsMemory(), cancellationToken: ct);
            foreach (var (from, to) in Overlap(rows, n, start, count))
            {
                prediction[to] = predictions[from];
                label[to] = labels[from] ?? -1;
            }
            return true;
        }, ct);
        return (prediction, label);
    }

    /// <summary>A float column's values of samples [<paramref name="start"/>, start + count) (NaN where null or skipped); null when a part lacks it.</summary>
    public async Task<double[]?> ColumnAsync(string name, long start, long count, CancellationToken ct = default)
    {
        var values = new double[count];
        Array.Fill(values, double.NaN);
        var found = await ForEachPartAsync(start, count, async (group, fields, rows, n) =>
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
            foreach (var (from, to) in Overlap(rows, n, start, count)) values[to] = read[from] ?? double.NaN;
            return true;
        }, ct);
        return found ? values : null;
    }

    /// <summary>Row of a part of <paramref name="n"/> rows (<paramref name="rows"/>: its shard's start and kept indices) → index in the range [start, start + count), where both hold it.</summary>
    private static IEnumerable<(int From, long To)> Overlap((long Start, long[]? Kept) rows, int n, long start, long count)
    {
        for (var r = 0; r < n; r++)
            if (Jobs.SampleRows.IndexOf(rows.Start, rows.Kept, r) is var i && i >= start && i < start + count) yield return (r, i - start);
    }

    /// <summary>
    /// Reads, in shard order, each shard's samples part that holds samples of [<paramref name="start"/>, start + count), with the
    /// part's rows (its shard's start and kept indices); false when <paramref name="read"/> said a part lacks what it wants.
    /// </summary>
    private async Task<bool> ForEachPartAsync(long start, long count, Func<ParquetRowGroupReader, DataField[], (long Start, long[]? Kept), int, Task<bool>> read,
        CancellationToken ct)
    {
        foreach (var shard in Manifest.Shards.Where(s => s.Start < start + count && start < s.Start + s.Count))
        {
            await using var reader = await ParquetReader.CreateAsync(await CopyAsync(Folder.Child(OutputLayout.SamplesPart(shard.Index)), ct), cancellationToken: ct);
            using var group = reader.OpenRowGroupReader(0);
            if (!await read(group, reader.Schema.GetDataFields(), (shard.Start, await KeptAsync(shard, ct)), (int)group.RowCount)) return false;
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

        /// <summary>The sample's map; null when the method did not explain it (outside its subset, or skipped).</summary>
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
                var kept = await run.KeptAsync(s, ct);
                (shard, row) = (s.Index, Jobs.SampleRows.RowOf(s.Start, kept?.Length ?? (int)s.Count, kept, sample));
                if (row < 0) return null;
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
