using ExplainCluster.Engine;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// <see cref="ColumnChunkReader"/> against Parquet.Net's own decode of the same files: the values bit for bit (NaN, ±0, ±∞) and
/// which are missing, for every layout Parquet.Net writes and, through <see cref="ParquetPages"/>, those it reads but does not
/// write (several pages a chunk, data pages v2, a dictionary that gives way to PLAIN pages); chunks it does not decode go to
/// Parquet.Net; a corrupt chunk is a one-line error naming the file and the column.
/// </summary>
public sealed class ColumnChunkReaderTests
{
    /// <summary>Values that a decoder could get wrong without a test noticing: NaN, ±0, ±∞, extremes, repeats (for dictionaries).</summary>
    private static readonly double[] Specials =
        [double.NaN, 0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.MaxValue, double.Epsilon, -1.5, 1e-300, 3.0];

    /// <summary>
    /// A file of <paramref name="rows"/> rows in groups of <paramref name="group"/>: a column of each numeric type ParquetTable
    /// reads, required and nullable (every fifth row and a run of 40 null), and two text columns: <c>t</c>, nullable, of few
    /// values (Parquet.Net writes it with a dictionary), and <c>tu</c>, required, a value a row (written PLAIN); both with empty
    /// strings and non-ASCII UTF-8.
    /// </summary>
    internal static async Task<string> WriteAsync(string path, int rows, int group, ParquetOptions options)
    {
        var fields = new DataField[]
        {
            new DataField<double>("d"), new DataField<double?>("dn"), new DataField<float>("f"), new DataField<float?>("fn"),
            new DataField<int>("i"), new DataField<int?>("in"), new DataField<long>("l"), new DataField<long?>("ln"),
            new DataField<short>("s"), new DataField<short?>("sn"), new DataField<string>("t"), new DataField("tu", typeof(string), isNullable: false),
        };
        string[] words = ["", "v", "é", "北京", "🙂 ok", "naïve", "x\u0000y"];
        var random = new Random(7);
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, options);
        for (var start = 0; start < rows; start += group)
        {
            var n = Math.Min(group, rows - start);
            // Few distinct values in the first half of each group (a dictionary takes them), many in the second.
            var d = Enumerable.Range(0, n).Select(r => r < n / 2 ? Specials[random.Next(Specials.Length)] : random.NextDouble() * 1e6 - 5e5).ToArray();
            bool Null(int r) => r % 5 == 3 || (r >= 100 && r < 140);
            T? Maybe<T>(int r, T value) where T : struct => Null(r) ? null : value;
            using var g = writer.CreateRowGroup();
            await g.WriteAsync(fields[0], new ReadOnlyMemory<double>(d));
            await g.WriteAsync(fields[1], new ReadOnlyMemory<double?>([.. d.Select((x, r) => Maybe(r, x))]));
            await g.WriteAsync(fields[2], new ReadOnlyMemory<float>([.. d.Select(x => (float)x)]));
            await g.WriteAsync(fields[3], new ReadOnlyMemory<float?>([.. d.Select((x, r) => Maybe(r, (float)x))]));
            var i = d.Select((x, r) => r < n / 2 ? r % 7 - 3 : random.Next(int.MinValue, int.MaxValue)).ToArray();
            await g.WriteAsync(fields[4], new ReadOnlyMemory<int>(i));
            await g.WriteAsync(fields[5], new ReadOnlyMemory<int?>([.. i.Select((x, r) => Maybe(r, x))]));
            var l = i.Select((x, r) => r % 3 == 0 ? (long)x << 20 : x).ToArray();
            await g.WriteAsync(fields[6], new ReadOnlyMemory<long>(l));
            await g.WriteAsync(fields[7], new ReadOnlyMemory<long?>([.. l.Select((x, r) => Maybe(r, x))]));
            var s = i.Select(x => (short)x).ToArray();
            await g.WriteAsync(fields[8], new ReadOnlyMemory<short>(s));
            await g.WriteAsync(fields[9], new ReadOnlyMemory<short?>([.. s.Select((x, r) => Maybe(r, x))]));
            await g.WriteAsync(fields[10], i.Select((x, r) => Null(r) ? null : r % 9 == 0 ? words[(uint)x % words.Length] : $"v{x % 10}").ToArray());
            await g.WriteAsync(fields[11], i.Select((x, r) => r % 13 == 0 ? "" : $"{words[r % words.Length]}{start + r}").ToArray());
        }
        return path;
    }

    internal static async Task<ParquetTable> OpenAsync(string path, bool own)
    {
        var blob = new LocalBlob(path);
        var table = await ParquetTable.OpenAsync(blob, await blob.LengthAsync(), CancellationToken.None, new RowGroupCache(groups: 0));
        table.OwnChunkReader = own;
        return table;
    }

    /// <summary>
    /// Reads <paramref name="path"/> whole (in reads that straddle groups) both ways and asserts the cells are the same bits
    /// (a text as it was decoded: null and empty told apart); returns the chunks each table decoded its own way.
    /// </summary>
    internal static async Task<((int Own, int ParquetNet) Own, (int Own, int ParquetNet) ParquetNet)> AssertSameAsync(string path, int read)
    {
        var (own, parquetNet) = (await OpenAsync(path, own: true), await OpenAsync(path, own: false));
        int[] columns = [.. Enumerable.Range(0, own.Columns.Length)];
        for (long start = 0; start < own.Count; start += read)
        {
            var count = (int)Math.Min(read, own.Count - start);
            var (a, b) = (await own.ReadColumnsAsync(start, count, columns, CancellationToken.None), await parquetNet.ReadColumnsAsync(start, count, columns, CancellationToken.None));
            for (var c = 0; c < columns.Length; c++) AssertSame(b[c], a[c], $"{own.Columns[c]} from row {start}");
        }
        return (own.ChunksDecoded, parquetNet.ChunksDecoded);
    }

    /// <summary>The same cells: missing alike, numbers the same bits, texts the same strings as decoded (null is not empty).</summary>
    internal static void AssertSame(ColumnCells expected, ColumnCells actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var r = 0; r < expected.Count; r++)
        {
            var (x, y) = (Raw(expected, r), Raw(actual, r));
            Assert.True(Equals(x, y), $"{what}, row {r}: expected {x ?? "null"}, read {y ?? "null"}");
        }
    }

    private static object? Raw(ColumnCells cells, int r) => cells.Column switch
    {
        DecodedColumn.Texts t => t.Values[cells.Offset + r],
        _ when cells.IsMissing(r) => null,
        _ => cells.TryNumber(r, out var x) ? BitConverter.DoubleToInt64Bits(x) : throw new InvalidOperationException("a number column without a number"),
    };

    private static bool Same(object? expected, object? actual) => (expected, actual) switch
    {
        (null, null) => true,
        (double x, double y) => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
        _ => Equals(expected, actual),
    };

    /// <summary>The encodings that <paramref name="path"/>'s numeric column chunks list, or those of the column <paramref name="name"/>.</summary>
    internal static async Task<HashSet<Parquet.Meta.Encoding>> EncodingsAsync(string path, string? name = null)
    {
        await using var stream = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(stream);
        return [.. reader.Metadata!.RowGroups.SelectMany(g => g.Columns)
            .Where(c => name is null ? c.MetaData!.Type != Parquet.Meta.Type.BYTE_ARRAY : c.MetaData!.PathInSchema.SequenceEqual([name]))
            .SelectMany(c => c.MetaData!.Encodings)];
    }

    /// <summary>
    /// Parquet.Net 6.1 writes numbers PLAIN whatever its dictionary options say (checked here), so their dictionaries come from
    /// <see cref="ParquetPages"/>; it writes text with a dictionary where asked and the values repeat enough (<c>t</c>, not <c>tu</c>).
    /// </summary>
    [Theory]
    [InlineData(CompressionMethod.None)]
    [InlineData(CompressionMethod.Snappy)]
    [InlineData(CompressionMethod.Gzip)]
    public async Task FilesParquetNetWrites_DecodeToItsValuesBitForBit(CompressionMethod compression)
    {
        var options = new ParquetOptions { CompressionMethod = compression };
        foreach (var name in new[] { "d", "dn", "f", "fn", "i", "in", "l", "ln", "s", "sn", "t", "tu" }) options.ColumnEncodingHints[name] = EncodingHint.Dictionary;
        var path = await WriteAsync(Path.Combine(TestPaths.NewFolder(), "t.parquet"), rows: 2_500, group: 1_000, options);
        Assert.Equal([Parquet.Meta.Encoding.PLAIN, Parquet.Meta.Encoding.RLE], (await EncodingsAsync(path)).Order());
        Assert.Contains(Parquet.Meta.Encoding.PLAIN_DICTIONARY, await EncodingsAsync(path, "t"));
        Assert.DoesNotContain(Parquet.Meta.Encoding.PLAIN_DICTIONARY, await EncodingsAsync(path, "tu"));
        var (own, parquetNet) = await AssertSameAsync(path, read: 700);
        Assert.Equal(0, parquetNet.Own);
        Assert.Equal((parquetNet.ParquetNet, 0), own); // every chunk decoded here, text too
    }

    public static TheoryData<int, bool, ParquetPages.Dictionary, Parquet.Meta.CompressionCodec> PageLayouts => new()
    {
        { 300, false, ParquetPages.Dictionary.None, Parquet.Meta.CompressionCodec.SNAPPY },
        { 300, false, ParquetPages.Dictionary.All, Parquet.Meta.CompressionCodec.UNCOMPRESSED },
        { 256, false, ParquetPages.Dictionary.ThenPlain, Parquet.Meta.CompressionCodec.SNAPPY },
        { 1_000, true, ParquetPages.Dictionary.None, Parquet.Meta.CompressionCodec.UNCOMPRESSED },
        { 300, true, ParquetPages.Dictionary.All, Parquet.Meta.CompressionCodec.SNAPPY },
        { 128, true, ParquetPages.Dictionary.ThenPlain, Parquet.Meta.CompressionCodec.GZIP },
        { 37, false, ParquetPages.Dictionary.All, Parquet.Meta.CompressionCodec.GZIP },
    };

    [Theory]
    [MemberData(nameof(PageLayouts))]
    public async Task PagesParquetNetDoesNotWrite_DecodeToItsValuesBitForBit(int pageRows, bool v2, ParquetPages.Dictionary dictionary, Parquet.Meta.CompressionCodec codec)
    {
        var folder = TestPaths.NewFolder();
        var written = await WriteAsync(Path.Combine(folder, "written.parquet"), rows: 2_500, group: 1_000, new ParquetOptions { CompressionMethod = CompressionMethod.None });
        var paged = Path.Combine(folder, "paged.parquet");
        await ParquetPages.RewriteAsync(written, paged, new ParquetPages.Layout(pageRows, v2, dictionary, codec));
        var (own, _) = await AssertSameAsync(paged, read: 700);
        Assert.Equal(0, own.ParquetNet);
        Assert.True(own.Own > 0);
        await AssertSameAsync(paged, read: 29); // reads of a few rows, each only its own: pages passed over, pages read in part
        // And the pages hold the values Parquet.Net wrote (so the rewrite is not what both readers agree on by accident).
        var (before, after) = (await OpenAsync(written, own: false), await OpenAsync(paged, own: true));
        int[] columns = [.. Enumerable.Range(0, before.Columns.Length)];
        var (x, y) = (await before.ReadAsync(0, 2_500, columns, CancellationToken.None), await after.ReadAsync(0, 2_500, columns, CancellationToken.None));
        for (var c = 0; c < columns.Length; c++)
            for (var r = 0; r < 2_500; r++) Assert.True(Same(x[c][r], y[c][r]), $"{before.Columns[c]} row {r}: written {x[c][r]}, read {y[c][r]}");
    }

    [Fact]
    public async Task CreditTableAsParquet_ReadsTheSameBothWays()
    {
        var folder = TestPaths.NewFolder();
        var path = await TableFiles.ParquetOfAsync(TableFiles.Credit, Path.Combine(folder, "credit.parquet"), rowGroup: 700);
        var (own, _) = await AssertSameAsync(path, read: 500);
        Assert.Equal(0, own.ParquetNet); // its categorical columns (nullable text) too
        Assert.True(own.Own > 0);
        var paged = Path.Combine(folder, "paged.parquet");
        await ParquetPages.RewriteAsync(path, paged, new ParquetPages.Layout(100, V2: true, ParquetPages.Dictionary.ThenPlain, Parquet.Meta.CompressionCodec.SNAPPY));
        await AssertSameAsync(paged, read: 500);
    }

    [Theory]
    [InlineData("delta")]
    [InlineData("zstd")]
    public async Task ChunksItDoesNotDecode_GoToParquetNet(string what)
    {
        var options = what == "zstd" ? new ParquetOptions { CompressionMethod = CompressionMethod.Zstd } : new ParquetOptions();
        if (what == "delta") foreach (var name in new[] { "i", "in", "l", "ln" }) options.ColumnEncodingHints[name] = EncodingHint.DeltaBinaryPacked;
        var path = await WriteAsync(Path.Combine(TestPaths.NewFolder(), "t.parquet"), rows: 2_000, group: 1_000, options);
        var (own, parquetNet) = await AssertSameAsync(path, read: 1_000);
        Assert.Equal(0, parquetNet.Own);
        // 2 groups of 12 columns: zstd, none decoded here; delta, the 4 delta-encoded int and long columns go to Parquet.Net.
        Assert.Equal(what == "zstd" ? (0, 24) : (16, 8), own);
    }

    [Fact]
    public async Task GroupDecodedByThisReader_OpensNoParquetNetReader_OneWhenAChunkFallsBack()
    {
        var folder = TestPaths.NewFolder();
        var plain = await WriteAsync(Path.Combine(folder, "plain.parquet"), rows: 3_000, group: 1_000, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy });
        var deltaOptions = new ParquetOptions { CompressionMethod = CompressionMethod.Snappy };
        deltaOptions.ColumnEncodingHints["i"] = EncodingHint.DeltaBinaryPacked;
        var delta = await WriteAsync(Path.Combine(folder, "delta.parquet"), rows: 3_000, group: 1_000, deltaOptions);
        async Task<ParquetTable> OpenCachedAsync(string path)
        {
            var blob = new LocalBlob(path);
            return await ParquetTable.OpenAsync(blob, await blob.LengthAsync(), CancellationToken.None, new RowGroupCache(groups: 2));
        }
        int[] all = [.. Enumerable.Range(0, 12)];
        // A whole group; group 1 decoded whole into the cache (300 rows); a few rows of group 2, not kept; rows across groups 1
        // (kept) and 2 (decoded into the cache); the table whole (three groups in one read).
        async Task ReadAsync(ParquetTable table, int[] columns)
        {
            await table.ReadColumnsAsync(0, 1_000, columns, CancellationToken.None);
            await table.ReadColumnsAsync(1_100, 300, columns, CancellationToken.None);
            await table.ReadColumnsAsync(2_500, 3, columns, CancellationToken.None);
            await table.ReadColumnsAsync(1_900, 200, columns, CancellationToken.None);
            await table.ReadColumnsAsync(0, 3_000, columns, CancellationToken.None);
        }
        var table = await OpenCachedAsync(plain);
        await ReadAsync(table, all);
        Assert.Equal(0, table.ReadersOpened);
        Assert.Equal(0, table.ChunksDecoded.ParquetNet);
        table = await OpenCachedAsync(delta);
        await ReadAsync(table, [0, 1, 11]);
        Assert.Equal(0, table.ReadersOpened);
        // With column i (delta-encoded), one reader for each decode of a group in the cache (groups 1 and 2) and for each read
        // that decodes outside it (the first, the third, the last: one for its three groups): 5 readers for 7 chunks of i.
        await ReadAsync(table, [0, 4, 11]);
        Assert.Equal(5, table.ReadersOpened);
        Assert.Equal(7, table.ChunksDecoded.ParquetNet);
    }

    [Theory]
    [InlineData(true, 0, 0xFF)]    // the page header's first byte: a field of no compact type
    [InlineData(true, 0, 0x00)]    // a header that stops at once, without its type
    [InlineData(false, 0, 0x7F)]   // the Snappy stream's length and first tags
    [InlineData(false, 2, 0xFF)]   // its first tags: copies from before the start
    [InlineData(true, 0, 0xFF, 11)] // the same in the text column tu
    [InlineData(false, 0, 0x7F, 11)]
    public async Task CorruptChunk_OneLineErrorNamingFileAndColumn(bool header, int at, byte value, int column = 1)
    {
        var path = await WriteAsync(Path.Combine(TestPaths.NewFolder(), "t.parquet"), rows: 2_000, group: 1_000, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy });
        long offset;
        await using (var stream = File.OpenRead(path))
        await using (var reader = await ParquetReader.CreateAsync(stream))
            offset = reader.Metadata!.RowGroups[1].Columns[column].MetaData!.DataPageOffset;
        var bytes = await File.ReadAllBytesAsync(path);
        if (!header)
        {
            PageHeader.Read(bytes.AsSpan((int)offset), out var length);
            offset += length;
        }
        for (var i = 0; i < 8; i++) bytes[offset + at + i] = value;
        await File.WriteAllBytesAsync(path, bytes);
        var table = await OpenAsync(path, own: true);
        Assert.Equal(1_000, (await table.ReadAsync(0, 1_000, [column], CancellationToken.None))[0].Length); // group 0 is intact
        var e = await Assert.ThrowsAsync<ExplainException>(() => table.ReadAsync(1_000, 1_000, [column], CancellationToken.None));
        Assert.StartsWith($"{path}: column \"{table.Columns[column]}\" is not readable Parquet: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Hybrid_FormatSpecExamples_DecodeExactly()
    {
        // parquet-format's Encodings.md: 0..7 bit-packed in 3 bits are the bytes 10001000 11000110 11111010 (one group: header 3).
        var packed = new int[8];
        Hybrid.Decode<int>(new byte[] { 0x03, 0x88, 0xC6, 0xFA }, 3, packed);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], packed);
        // An RLE run of 300 fives (header 600, a two-byte varint), then the same group, of which 3 values are taken.
        var mixed = new int[303];
        Hybrid.Decode<int>(new byte[] { 0xD8, 0x04, 0x05, 0x03, 0x88, 0xC6, 0xFA }, 3, mixed);
        Assert.Equal([.. Enumerable.Repeat(5, 300), 0, 1, 2], mixed);
        Assert.Throws<InvalidDataException>(() => Hybrid.Decode<int>(new byte[] { 0x03, 0x88 }, 3, new int[8]));      // a group cut short
        Assert.Throws<InvalidDataException>(() => Hybrid.Decode<int>(new byte[] { 0x10, 0x09 }, 3, new int[8]));      // an RLE value of 4 bits
        Assert.Throws<InvalidDataException>(() => Hybrid.Decode<byte>(new byte[] { 0x08, 0x01 }, 1, new byte[8 + 1])); // runs that end before the values
    }

    [Fact]
    public void PageHeader_ReadsWhatParquetNetWrites_SkippingFieldsItDoesNotUse()
    {
        var v2 = new Parquet.Meta.PageHeader
        {
            Type = Parquet.Meta.PageType.DATA_PAGE_V2, UncompressedPageSize = 70_000, CompressedPageSize = 1_234, Crc = -5,
            DataPageHeaderV2 = new Parquet.Meta.DataPageHeaderV2
            {
                NumValues = 1_000, NumNulls = 7, NumRows = 1_000, Encoding = Parquet.Meta.Encoding.RLE_DICTIONARY, DefinitionLevelsByteLength = 130,
                RepetitionLevelsByteLength = 0, IsCompressed = false,
                Statistics = new Parquet.Meta.Statistics { Max = [1, 2, 3], MaxValue = [9, 9], NullCount = 7, DistinctCount = 3, IsMaxValueExact = true },
            },
        };
        var dictionary = new Parquet.Meta.PageHeader
        {
            Type = Parquet.Meta.PageType.DICTIONARY_PAGE, UncompressedPageSize = 800, CompressedPageSize = 800,
            DictionaryPageHeader = new Parquet.Meta.DictionaryPageHeader { NumValues = 100, Encoding = Parquet.Meta.Encoding.PLAIN_DICTIONARY, IsSorted = true },
        };
        using var stream = new MemoryStream();
        ParquetPages.Thrift(v2, stream);
        var first = (int)stream.Length;
        ParquetPages.Thrift(dictionary, stream);
        var bytes = stream.ToArray();
        var a = PageHeader.Read(bytes, out var length);
        Assert.Equal(first, length);
        Assert.Equal((3, 70_000, 1_234, 1_000, 8, 130, 0, false), (a.Type, a.UncompressedSize, a.CompressedSize, a.Values, a.Encoding, a.DefinitionBytes, a.RepetitionBytes, a.Compressed));
        var b = PageHeader.Read(bytes.AsSpan(first), out length);
        Assert.Equal(bytes.Length - first, length);
        Assert.Equal((2, 800, 100, 2, true), (b.Type, b.CompressedSize, b.Values, b.Encoding, b.Compressed));
        Assert.Throws<InvalidDataException>(() => PageHeader.Read(bytes.AsSpan(0, first - 1), out _));
    }

    [Fact]
    public async Task ChunkItFindsCorrupt_ParquetNetReads_ReadByParquetNetAsBefore()
    {
        var folder = TestPaths.NewFolder();
        var written = await WriteAsync(Path.Combine(folder, "written.parquet"), rows: 2_000, group: 1_000, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy });
        var changed = Path.Combine(folder, "changed.parquet");
        // A chunk said to run past the file's end: this reader refuses it; Parquet.Net reads its pages by their headers.
        await ParquetPages.RewriteFooterAsync(written, changed, meta => meta.RowGroups[1].Columns[1].MetaData!.TotalCompressedSize += 1L << 30);
        var (expected, actual) = (await OpenAsync(written, own: false), await OpenAsync(changed, own: true));
        var (a, b) = (await expected.ReadAsync(0, 2_000, [1, 2], CancellationToken.None), await actual.ReadAsync(0, 2_000, [1, 2], CancellationToken.None));
        for (var c = 0; c < 2; c++)
            for (var r = 0; r < 2_000; r++) Assert.True(Same(a[c][r], b[c][r]), $"column {c} row {r}");
        Assert.Equal((3, 1), actual.ChunksDecoded);
    }
}
