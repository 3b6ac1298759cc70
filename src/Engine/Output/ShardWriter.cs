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
    public static async Task WriteAsync(IBlob output, int shard, ShardResult result, IReadOnlyList<MethodScalars> scalars, CancellationToken ct = default)
    {
        foreach (var method in result.Methods)
        {
            long[] shape = [method.RowCount(result.Count), .. method.MapShape.Select(d => (long)d)];
            await output.Child(OutputLayout.AttributionPart(method.Name, shard)).WriteAsync(NpyFormat.Encode(method.Maps, shape), ct);
            // A method with a subset: which dataset index each of its rows explains.
            if (method.Rows is { } rows)
                await output.Child(OutputLayout.AttributionIndex(method.Name, shard))
                    .WriteAsync(NpyFormat.Encode([.. rows.Select(i => result.Start + i)], [rows.Length]), ct);
        }
        if (result.Segments is { } segments)
            await output.Child(OutputLayout.SegmentsPart(shard))
                .WriteAsync(NpyFormat.Encode(segments.Labels, [result.Count, segments.Height, segments.Width]), ct);
        await output.Child(OutputLayout.LogitsPart(shard)).WriteAsync(NpyFormat.Encode(result.Logits, [result.Count, result.Classes]), ct);
        await output.Child(OutputLayout.SamplesPart(shard)).WriteAsync(await ParquetAsync(result, scalars, ct), ct);
    }

    private static async Task<byte[]> ParquetAsync(ShardResult r, IReadOnlyList<MethodScalars> methodScalars, CancellationToken ct)
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
        var schema = new ParquetSchema([index, label, prediction, confidence, loss, correct, .. scalars.Select(s => (Field)s.field)]);

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

        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: ct))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(index, new ReadOnlyMemory<long>([.. Enumerable.Range(0, n).Select(i => r.Start + i)]), cancellationToken: ct);
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
        }
        return stream.ToArray();
    }
}
