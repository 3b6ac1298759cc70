using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>A regular file inside a tar: where its bytes start in the tar and how many there are.</summary>
public sealed record TarMember(string Tar, string Name, long Offset, long Size);

/// <summary>
/// The members of a tar file, read from their headers alone (512 bytes each, one ranged read per member; the data is skipped,
/// never extracted): ustar and GNU tar, with GNU long names (<c>L</c>) and pax <c>path</c> records (<c>x</c>), as Python's
/// <c>tarfile</c> and GNU tar write them. Directories, links and other non-files are passed over.
/// </summary>
public static class TarIndex
{
    private const int Block = 512;

    public static async Task<TarMember[]> ReadAsync(IBlob tar, string location, CancellationToken ct)
    {
        var length = await tar.LengthAsync(ct);
        var members = new List<TarMember>();
        string? nextName = null;
        for (long at = 0; at + Block <= length;)
        {
            var header = await tar.ReadRangeAsync(at, Block, ct);
            if (header.All(b => b == 0)) break; // the end-of-archive blocks
            if (!ChecksumHolds(header)) throw new ExplainException($"data.tar: {location}: not a tar file (the header at byte {at} fails its checksum)");
            var size = Number(header.AsSpan(124, 12), location, at);
            var data = at + Block;
            if (data + size > length) throw new ExplainException($"data.tar: {location}: truncated (the member at byte {at} runs past the end)");
            var type = (char)header[156];
            switch (type)
            {
                case 'L':
                    nextName = Text(await tar.ReadRangeAsync(data, checked((int)size), ct));
                    break;
                case 'x':
                    nextName = PaxPath(await tar.ReadRangeAsync(data, checked((int)size), ct)) ?? nextName;
                    break;
                case '0' or '\0' or '7':
                    members.Add(new TarMember(location, nextName ?? NameOf(header), data, size));
                    nextName = null;
                    break;
                default:
                    nextName = null; // a directory, link or global header: no sample
                    break;
            }
            at = data + (size + Block - 1) / Block * Block;
        }
        return [.. members];
    }

    /// <summary>ustar's prefix and name (the prefix empty for older formats).</summary>
    private static string NameOf(byte[] header)
    {
        var name = Text(header.AsSpan(0, 100));
        var ustar = header.AsSpan(257, 5).SequenceEqual("ustar"u8);
        var prefix = ustar ? Text(header.AsSpan(345, 155)) : "";
        return prefix.Length > 0 ? $"{prefix}/{name}" : name;
    }

    /// <summary>An octal field, or GNU's base-256 form (high bit set) for sizes of 8 GiB and more.</summary>
    private static long Number(ReadOnlySpan<byte> field, string location, long at)
    {
        if ((field[0] & 0x80) != 0)
        {
            long big = field[0] & 0x7f;
            foreach (var b in field[1..]) big = checked(big * 256 + b);
            return big;
        }
        var text = Encoding.ASCII.GetString(field).Trim(' ', '\0');
        return text.Length == 0 ? 0 : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _) && text.All(c => c is >= '0' and <= '7')
            ? Convert.ToInt64(text, 8) : throw new ExplainException($"data.tar: {location}: the header at byte {at} has a size that is not a number");
    }

    private static bool ChecksumHolds(byte[] header)
    {
        var stored = Encoding.ASCII.GetString(header, 148, 8).Trim(' ', '\0');
        if (stored.Length == 0 || !stored.All(c => c is >= '0' and <= '7')) return false;
        long sum = 0;
        for (var i = 0; i < Block; i++) sum += i is >= 148 and < 156 ? ' ' : header[i];
        return sum == Convert.ToInt64(stored, 8);
    }

    /// <summary>A pax extended header's <c>path</c> record ("LEN path=VALUE\n" records); null without one.</summary>
    private static string? PaxPath(byte[] records)
    {
        foreach (var record in Encoding.UTF8.GetString(records).Split('\n'))
            if (record.IndexOf(' ') is var space and > 0 && record[(space + 1)..] is var kv && kv.StartsWith("path=", StringComparison.Ordinal))
                return kv["path=".Length..];
        return null;
    }

    private static string Text(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }
}
