using System.IO.Compression;
using System.Reflection;
using Parquet;
using Parquet.Meta;
using Parquet.Schema;
using Encoding = Parquet.Meta.Encoding;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// Rewrites a Parquet file's numeric and text column chunks in page layouts that Parquet.Net 6.1 reads but does not write (it
/// writes a chunk as one data page v1, and numbers never with a dictionary): several pages a chunk, data pages v2, dictionary
/// pages with RLE or bit-packed indices, and a dictionary that gives way to PLAIN pages part-way (pyarrow's fallback when a
/// dictionary grows too large). Other chunks are copied. The page headers and the footer are written with Parquet.Net's own
/// Thrift classes (internal to it, reached by reflection), so the file is one that Parquet.Net can read back.
/// </summary>
public static class ParquetPages
{
    public enum Dictionary { None, All, ThenPlain }

    /// <param name="PageRows">Rows a data page.</param>
    /// <param name="V2">Data pages v2 rather than v1.</param>
    public sealed record Layout(int PageRows, bool V2, Dictionary Dictionary, CompressionCodec Codec);

    public static async Task RewriteAsync(string source, string destination, Layout layout)
    {
        var bytes = await File.ReadAllBytesAsync(source);
        await using var reader = await ParquetReader.CreateAsync(new MemoryStream(bytes));
        var meta = reader.Metadata!;
        var fields = reader.Schema.GetDataFields();
        using var output = new MemoryStream();
        output.Write("PAR1"u8);
        for (var g = 0; g < meta.RowGroups.Count; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var rowGroup = meta.RowGroups[g];
            rowGroup.FileOffset = output.Position;
            for (var c = 0; c < rowGroup.Columns.Count; c++)
            {
                var chunk = rowGroup.Columns[c];
                var column = chunk.MetaData!;
                var start = output.Position;
                if (await PlainAsync(group, fields[c], (int)group.RowCount) is { } values) WriteChunk(output, column, values, fields[c].IsNullable, layout);
                else
                {
                    var from = column.DictionaryPageOffset ?? column.DataPageOffset;
                    output.Write(bytes, (int)from, (int)column.TotalCompressedSize);
                    column.DataPageOffset += start - from;
                    if (column.DictionaryPageOffset is not null) column.DictionaryPageOffset += start - from;
                }
                chunk.FileOffset = start;
                (chunk.ColumnIndexOffset, chunk.ColumnIndexLength, chunk.OffsetIndexOffset, chunk.OffsetIndexLength) = (null, null, null, null);
            }
            rowGroup.TotalCompressedSize = output.Position - rowGroup.FileOffset;
        }
        var footer = output.Position;
        Thrift(meta, output);
        output.Write(BitConverter.GetBytes((int)(output.Position - footer)));
        output.Write("PAR1"u8);
        await File.WriteAllBytesAsync(destination, output.ToArray());
    }

    /// <summary><paramref name="source"/> with its footer changed by <paramref name="change"/>, the pages as they are.</summary>
    public static async Task RewriteFooterAsync(string source, string destination, Action<FileMetaData> change)
    {
        var bytes = await File.ReadAllBytesAsync(source);
        FileMetaData meta;
        await using (var reader = await ParquetReader.CreateAsync(new MemoryStream(bytes))) meta = reader.Metadata!;
        change(meta);
        using var output = new MemoryStream();
        output.Write(bytes, 0, bytes.Length - 8 - BitConverter.ToInt32(bytes, bytes.Length - 8));
        var footer = output.Position;
        Thrift(meta, output);
        output.Write(BitConverter.GetBytes((int)(output.Position - footer)));
        output.Write("PAR1"u8);
        await File.WriteAllBytesAsync(destination, output.ToArray());
    }

    /// <summary>
    /// A numeric or text column's values, read by Parquet.Net, each as its PLAIN encoding (a number's bytes; a text's 4-byte
    /// length and UTF-8 bytes), null where missing; null for other columns.
    /// </summary>
    private static async Task<byte[]?[]?> PlainAsync(ParquetRowGroupReader group, DataField field, int n)
    {
        static byte[] Bits(long bits, int width) => BitConverter.GetBytes(bits)[..width];
        if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
        {
            var text = new string?[n];
            await group.ReadAsync(field, text.AsMemory());
            return [.. text.Select(t => t is null ? null : (byte[])[.. BitConverter.GetBytes(System.Text.Encoding.UTF8.GetByteCount(t)), .. System.Text.Encoding.UTF8.GetBytes(t)])];
        }
        return field.ClrType switch
        {
            var t when t == typeof(double) => await ReadAsync<double>(group, field, n, x => Bits(BitConverter.DoubleToInt64Bits(x), 8)),
            var t when t == typeof(float) => await ReadAsync<float>(group, field, n, x => Bits(BitConverter.SingleToInt32Bits(x), 4)),
            var t when t == typeof(long) => await ReadAsync<long>(group, field, n, x => Bits(x, 8)),
            var t when t == typeof(int) => await ReadAsync<int>(group, field, n, x => Bits(x, 4)),
            var t when t == typeof(short) => await ReadAsync<short>(group, field, n, x => Bits(x, 4)),
            _ => null,
        };
    }

    private static async Task<byte[]?[]> ReadAsync<T>(ParquetRowGroupReader group, DataField field, int n, Func<T, byte[]> plain)
        where T : struct
    {
        if (!field.IsNullable)
        {
            var dense = new T[n];
            await group.ReadAsync<T>(field, dense.AsMemory());
            return [.. dense.Select(plain)];
        }
        var values = new T?[n];
        await group.ReadAsync<T>(field, values.AsMemory());
        return [.. values.Select(x => x is { } v ? plain(v) : null)];
    }

    private static void WriteChunk(MemoryStream output, ColumnMetaData column, byte[]?[] values, bool nullable, Layout layout)
    {
        var pages = (values.Length + layout.PageRows - 1) / layout.PageRows;
        bool Dictionary(int page) => layout.Dictionary == ParquetPages.Dictionary.All || (layout.Dictionary == ParquetPages.Dictionary.ThenPlain && page < pages / 2);
        var dictionary = new List<byte[]>();
        var index = new Dictionary<string, int>();
        for (var p = 0; p < pages; p++)
            if (Dictionary(p))
                foreach (var v in values.Skip(p * layout.PageRows).Take(layout.PageRows))
                    if (v is { } x && index.TryAdd(Convert.ToHexString(x), dictionary.Count)) dictionary.Add(x);
        var (start, uncompressed) = (output.Position, 0L);
        column.DictionaryPageOffset = null;
        if (dictionary.Count > 0)
        {
            column.DictionaryPageOffset = output.Position;
            byte[] plain = [.. dictionary.SelectMany(x => x)];
            uncompressed += Page(output, new PageHeader
            {
                Type = PageType.DICTIONARY_PAGE,
                DictionaryPageHeader = new DictionaryPageHeader { NumValues = dictionary.Count, Encoding = layout.V2 ? Encoding.PLAIN : Encoding.PLAIN_DICTIONARY },
            }, [], plain, layout.Codec);
        }
        column.DataPageOffset = output.Position;
        var bitWidth = dictionary.Count <= 1 ? 0 : 32 - int.LeadingZeroCount(dictionary.Count - 1);
        for (var p = 0; p < pages; p++)
        {
            var rows = values.Skip(p * layout.PageRows).Take(layout.PageRows).ToArray();
            var present = rows.Where(v => v is not null).Select(v => v!).ToList();
            var packed = p % 2 == 1; // levels and indices bit-packed on odd pages, in RLE runs on even ones
            var levels = nullable ? Hybrid([.. rows.Select(v => v is null ? 0 : 1)], 1, packed) : [];
            var body = Dictionary(p) ? [(byte)bitWidth, .. Hybrid([.. present.Select(x => index[Convert.ToHexString(x)])], bitWidth, packed)] : (byte[])[.. present.SelectMany(x => x)];
            var encoding = Dictionary(p) ? (layout.V2 ? Encoding.RLE_DICTIONARY : Encoding.PLAIN_DICTIONARY) : Encoding.PLAIN;
            uncompressed += layout.V2
                ? Page(output, new PageHeader
                {
                    Type = PageType.DATA_PAGE_V2,
                    DataPageHeaderV2 = new DataPageHeaderV2
                    {
                        NumValues = rows.Length, NumNulls = rows.Length - present.Count, NumRows = rows.Length, Encoding = encoding,
                        DefinitionLevelsByteLength = levels.Length, RepetitionLevelsByteLength = 0, IsCompressed = layout.Codec != CompressionCodec.UNCOMPRESSED,
                    },
                }, levels, body, layout.Codec)
                : Page(output, new PageHeader
                {
                    Type = PageType.DATA_PAGE,
                    DataPageHeader = new DataPageHeader { NumValues = rows.Length, Encoding = encoding, DefinitionLevelEncoding = Encoding.RLE, RepetitionLevelEncoding = Encoding.RLE },
                }, [], nullable ? [.. BitConverter.GetBytes(levels.Length), .. levels, .. body] : body, layout.Codec);
        }
        column.Codec = layout.Codec;
        column.Encodings = dictionary.Count > 0 ? [Encoding.PLAIN, Encoding.RLE, layout.V2 ? Encoding.RLE_DICTIONARY : Encoding.PLAIN_DICTIONARY] : [Encoding.PLAIN, Encoding.RLE];
        column.EncodingStats = null;
        column.TotalCompressedSize = output.Position - start;
        column.TotalUncompressedSize = uncompressed;
    }

    /// <summary>Writes a page: its header, then <paramref name="levels"/> as they are and <paramref name="body"/> compressed; returns its uncompressed size with the header.</summary>
    private static long Page(MemoryStream output, PageHeader header, byte[] levels, byte[] body, CompressionCodec codec)
    {
        var compressed = codec switch
        {
            CompressionCodec.UNCOMPRESSED => body,
            CompressionCodec.SNAPPY => Snappier.Snappy.CompressToArray(body),
            CompressionCodec.GZIP => Gzip(body),
            _ => throw new ArgumentOutOfRangeException(nameof(codec)),
        };
        header.UncompressedPageSize = levels.Length + body.Length;
        header.CompressedPageSize = levels.Length + compressed.Length;
        var before = output.Position;
        Thrift(header, output);
        var headerLength = output.Position - before;
        output.Write(levels);
        output.Write(compressed);
        return headerLength + header.UncompressedPageSize;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal)) gzip.Write(data);
        return buffer.ToArray();
    }

    /// <summary>Parquet's RLE/bit-packed hybrid: one bit-packed run of all the values (padded to 8), or a run for each repeat.</summary>
    public static byte[] Hybrid(int[] values, int bitWidth, bool packed)
    {
        var bytes = new List<byte>();
        if (packed)
        {
            var groups = (values.Length + 7) / 8;
            Varint(bytes, (groups << 1) | 1);
            var (bits, held) = (0UL, 0);
            for (var i = 0; i < groups * 8; i++)
            {
                bits |= (ulong)(i < values.Length ? (uint)values[i] : 0) << held;
                held += bitWidth;
                while (held >= 8) { bytes.Add((byte)bits); bits >>= 8; held -= 8; }
            }
            return [.. bytes];
        }
        for (var i = 0; i < values.Length;)
        {
            var run = 1;
            while (i + run < values.Length && values[i + run] == values[i]) run++;
            Varint(bytes, run << 1);
            for (var b = 0; b < (bitWidth + 7) / 8; b++) bytes.Add((byte)(values[i] >> (8 * b)));
            i += run;
        }
        return [.. bytes];
    }

    private static void Varint(List<byte> bytes, int value)
    {
        var v = (uint)value;
        while (v >= 0x80) { bytes.Add((byte)(v | 0x80)); v >>= 7; }
        bytes.Add((byte)v);
    }

    /// <summary>A Parquet.Net Thrift struct in the compact protocol, through its internal writer.</summary>
    public static void Thrift(object value, Stream stream)
    {
        var writerType = typeof(ParquetReader).Assembly.GetType("Parquet.Meta.Proto.ThriftCompactProtocolWriter", throwOnError: true)!;
        var writer = Activator.CreateInstance(writerType, stream)!;
        value.GetType().GetMethod("Write", BindingFlags.Instance | BindingFlags.NonPublic)!.Invoke(value, [writer]);
    }
}
