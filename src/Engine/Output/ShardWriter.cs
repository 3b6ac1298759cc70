using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.Output;

/// <summary>Writes one shard's parquet part, logits and attribution maps under the output location.</summary>
public static class ShardWriter
{
    /// <param name="features">A table job's feature names: each method's attributions are also written as parquet, a column per feature.</param>
    /// <param name="bad">The images of the shard's range skipped as unreadable (<c>"onBadSample": "skip"</c>; null otherwise): its errors table.</param>
    /// <param name="metadata">The job's metadata columns (a table's or an image manifest's), written to the samples part as text after the other columns.</param>
    /// <param name="maps">How the maps are stored (<c>maps</c> and the input's shape; null: full float32 maps of every sample).</param>
    public static async Task WriteAsync(IBlob output, int shard, ShardResult result, IReadOnlyList<MethodScalars> scalars, CancellationToken ct = default,
        string[]? features = null, IReadOnlyList<TextColumn>? metadata = null, IReadOnlyList<Data.Images.BadSample>? bad = null, StoredMaps? maps = null)
    {
        if (bad is not null) await output.Child(OutputLayout.ErrorsPart(shard)).WriteAsync(await Data.Images.BadSamplesTable.EncodeAsync(bad, ct), ct);
        maps ??= new StoredMaps(MapsSpec.Default, []);
        foreach (var method in result.Methods)
        {
            if (maps.Stored) await WriteMapsAsync(output, shard, result, method, maps, ct);
            if (features is not null) await FeatureColumnsAsync(output.Child(OutputLayout.AttributionTable(method.Name, shard)), result, method, features, ct);
        }
        if (result.Segments is { } segments)
            await output.Child(OutputLayout.SegmentsPart(shard))
                .WriteAsync(NpyFormat.Encode(segments.Labels, [result.Count, segments.Height, segments.Width]), ct);
        await NpyFormat.WriteAsync(output.Child(OutputLayout.LogitsPart(shard)), result.Logits, [result.Count, result.Classes], ct);
        await ParquetAsync(output.Child(OutputLayout.SamplesPart(shard)), result, scalars, metadata ?? [], ct);
    }

    /// <summary>
    /// A method's maps as <paramref name="maps"/> stores them, and for a method with a subset or a stored subset the index file:
    /// which dataset index each row of the part is. The default settings write the maps as computed.
    /// </summary>
    private static async Task WriteMapsAsync(IBlob output, int shard, ShardResult result, MethodMaps method, StoredMaps maps, CancellationToken ct)
    {
        var explained = method.Rows ?? Enumerable.Range(0, result.Count).ToArray();
        var subset = maps.Spec.Store == MapStore.Subset;
        int[] kept = subset ? [.. explained.Select((row, i) => (row, i)).Where(r => maps.Stores(result.IndexOf(r.row))).Select(r => r.i)]
            : [.. Enumerable.Range(0, explained.Length)];
        long[] shape = [kept.Length, .. maps.Shape(method.MapShape).Select(d => (long)d)];
        var values = maps.Spec == MapsSpec.Default ? method.Maps : maps.Reduce(method.Maps, kept, method.MapShape);
        await maps.WriteAsync(output.Child(OutputLayout.AttributionPart(method.Name, shard)), values, shape, ct);
        if (method.Rows is not null || subset)
            await NpyFormat.WriteAsync(output.Child(OutputLayout.AttributionIndex(method.Name, shard)), kept.Select(i => result.IndexOf(explained[i])).ToArray(), [kept.Length], ct);
    }

    /// <summary>A method's per-feature attributions: <c>index</c> (the dataset index), then one float column per feature.</summary>
    private static async Task FeatureColumnsAsync(IBlob target, ShardResult r, MethodMaps method, string[] features, CancellationToken ct)
    {
        if (!method.MapShape.SequenceEqual([features.Length]))
            throw new InvalidOperationException($"{method.Name}'s maps are [{string.Join(", ", method.MapShape)}], not one value per feature ({features.Length})");
        var rows = method.RowCount(r.Count);
        var index = new DataField<long>("index");
        var fields = features.Select(f => new DataField<float>(f)).ToArray();
        // About the values' size: the file is written once into this buffer, not grown by doubling and copied out.
        await ParquetBuffer.WriteAsync(target, (long)rows * (features.Length * 4 + 8), async stream =>
        {
            await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema([index, .. fields]), stream, cancellationToken: ct);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(index, new ReadOnlyMemory<long>([.. Enumerable.Range(0, rows).Select(i => r.IndexOf(method.Rows?[i] ?? i))]), cancellationToken: ct);
            var column = new float[rows];
            for (var f = 0; f < fields.Length; f++)
            {
                for (var i = 0; i < rows; i++) column[i] = method.Maps[i * features.Length + f];
                await group.WriteAsync(fields[f], new ReadOnlyMemory<float>(column), cancellationToken: ct);
            }
        }, ct);
    }

    private static async Task ParquetAsync(IBlob target, ShardResult r, IReadOnlyList<MethodScalars> methodScalars, IReadOnlyList<TextColumn> text, CancellationToken ct)
    {
        var index = new DataField<long>("index");
        var label = new DataField<int?>("label");
        var prediction = new DataField<int>("prediction");
        var confidence = new DataField<float>("confidence");
        var loss = new DataField<float?>("loss");
        var correct = new DataField<bool?>("correct");
        // A method's columns are nullable when it has a subset: null for the samples it did not explain.
        var scalars = methodScalars.SelectMany(m => new[]
        {
            (name: $"{OutputLayout.Column(m.Name)}_mean_abs", values: m.MeanAbs, nullable: m.Nullable),
            (name: $"{OutputLayout.Column(m.Name)}_max", values: m.Max, nullable: m.Nullable),
        }.Concat(m.Columns.Select(c => (name: c.Name, values: c.Values, nullable: m.Nullable))))
            .Concat((r.Faithfulness?.Columns ?? []).Select(c => (name: c.Name, values: c.Values, nullable: false)))
            .Concat((r.Trust?.Columns ?? []).Select(c => (name: c.Name, values: c.Values, nullable: true)))
            .Select(c => (field: c.nullable ? (DataField)new DataField<float?>(c.name) : new DataField<float>(c.name), c.values, c.nullable)).ToArray();
        var texts = text.Select(t => (field: new DataField<string>(t.Name), t.Values)).ToArray();
        Field[] fields = [index, label, prediction, confidence, loss, correct, .. scalars.Select(s => (Field)s.field), .. texts.Select(t => (Field)t.field)];
        if (fields.GroupBy(f => f.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } taken)
            throw new ExplainException($"data.metadata: column \"{taken.Key}\" is also a column the samples table writes; rename it in the table");
        var schema = new ParquetSchema(fields);

        var n = r.Count;
        var labels = new int?[n];
        var losses = new float?[n];
        var corrects = new bool?[n];
        for (var i = 0; i < n; i++)
        {
            if (r.Labels is null) continue;
            labels[i] = (int)r.Labels[i];
            losses[i] = r.Loss![i];
            corrects[i] = r.Labels[i] == r.Predictions[i];
        }

        await ParquetBuffer.WriteAsync(target, (long)n * (fields.Length * 5 + 8), async stream =>
        {
            await using var writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: ct);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(index, new ReadOnlyMemory<long>([.. Enumerable.Range(0, n).Select(r.IndexOf)]), cancellationToken: ct);
            await group.WriteAsync(label, new ReadOnlyMemory<int?>(labels), cancellationToken: ct);
            await group.WriteAsync(prediction, new ReadOnlyMemory<int>(r.Predictions), cancellationToken: ct);
            await group.WriteAsync(confidence, new ReadOnlyMemory<float>(r.Confidence), cancellationToken: ct);
            await group.WriteAsync(loss, new ReadOnlyMemory<float?>(losses), cancellationToken: ct);
            await group.WriteAsync(correct, new ReadOnlyMemory<bool?>(corrects), cancellationToken: ct);
            foreach (var (field, values, nullable) in scalars)
            {
                if (nullable) await group.WriteAsync(field, new ReadOnlyMemory<float?>([.. values.Select(v => float.IsNaN(v) ? (float?)null : v)]), cancellationToken: ct);
                else await group.WriteAsync(field, new ReadOnlyMemory<float>(values), cancellationToken: ct);
            }
            foreach (var (field, values) in texts) await group.WriteAsync(field, values);
        }, ct);
    }
}
