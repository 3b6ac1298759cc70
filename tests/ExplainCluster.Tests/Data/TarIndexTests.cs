using System.Formats.Tar;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data.Images;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// <see cref="TarIndex"/> against .NET's own tar writer (an independent implementation): every format it writes, long names
/// among them, gives each member's name and the exact range of its bytes.
/// </summary>
public sealed class TarIndexTests
{
    [Theory]
    [InlineData(TarEntryFormat.Ustar)]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Gnu)]
    public async Task ReadAsync_WhatDotNetWrites_NamesAndRangesOfEveryFile(TarEntryFormat format)
    {
        var path = Path.Combine(TestPaths.NewFolder(), "shard.tar");
        // A name past ustar's 100 bytes (its prefix field, pax's path record or GNU's long name), a directory, an empty file.
        var longName = string.Join('/', Enumerable.Repeat("folder", 20)) + "/sample-0001.png";
        var files = new (string Name, byte[] Data)[]
        {
            ("a/0001.png", [.. Enumerable.Range(0, 700).Select(i => (byte)i)]),
            ("a/0001.cls", "3"u8.ToArray()),
            (format == TarEntryFormat.Ustar ? "b/0002.png" : longName, [.. Enumerable.Range(0, 512).Select(i => (byte)(i * 3))]),
            ("c/empty.png", []),
        };
        await using (var stream = File.Create(path))
        await using (var writer = new TarWriter(stream, format))
        {
            await writer.WriteEntryAsync(Entry(format, TarEntryType.Directory, "a/"));
            foreach (var (name, data) in files)
            {
                var entry = Entry(format, TarEntryType.RegularFile, name);
                entry.DataStream = new MemoryStream(data);
                await writer.WriteEntryAsync(entry);
            }
        }
        var members = await TarIndex.ReadAsync(new LocalBlob(path), path, CancellationToken.None);
        Assert.Equal(files.Select(f => f.Name), members.Select(m => m.Name));
        var bytes = await File.ReadAllBytesAsync(path);
        for (var i = 0; i < files.Length; i++)
            Assert.Equal(files[i].Data, bytes.AsSpan((int)members[i].Offset, (int)members[i].Size).ToArray());
    }

    [Fact]
    public async Task ReadAsync_TruncatedTar_OneLineNamingIt()
    {
        var path = Path.Combine(TestPaths.NewFolder(), "shard.tar");
        await using (var stream = File.Create(path))
        await using (var writer = new TarWriter(stream, TarEntryFormat.Ustar))
            await writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, "x.png") { DataStream = new MemoryStream(new byte[2000]) });
        var whole = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, whole[..1536]);
        var error = await Assert.ThrowsAsync<ExplainException>(() => TarIndex.ReadAsync(new LocalBlob(path), path, CancellationToken.None));
        Assert.Equal($"data.tar: {path}: truncated (the member at byte 0 runs past the end)", error.Message);
    }

    private static TarEntry Entry(TarEntryFormat format, TarEntryType type, string name) => format switch
    {
        TarEntryFormat.Ustar => new UstarTarEntry(type, name),
        TarEntryFormat.Pax => new PaxTarEntry(type, name),
        _ => new GnuTarEntry(type, name),
    };
}
