using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Sets VER_FLG_WEAK (0x2) on the ELF64 little-endian .gnu.version_r auxiliary entry named
/// <see cref="VersionName"/> in each file. Files already patched, or without that entry, are left alone.
/// </summary>
public sealed class MarkGlibcxxVersionWeak : Microsoft.Build.Utilities.Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            var path = item.ItemSpec;
            try
            {
                var result = Patch(path, VersionName);
                Log.LogMessage(MessageImportance.Low, "{0}: {1}", path, result);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidDataException)
            {
                Log.LogError("could not mark {0} weak in {1}: {2}", VersionName, path, e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    public static string Patch(string path, string versionName)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        using var reader = new BinaryReader(file, Encoding.ASCII, leaveOpen: true);
        var ident = reader.ReadBytes(16);
        if (ident.Length < 16 || ident[0] != 0x7f || ident[1] != (byte)'E' || ident[2] != (byte)'L' || ident[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (ident[4] != 2 || ident[5] != 1)
            throw new InvalidDataException("not a 64-bit little-endian ELF file");

        file.Position = 0x28;
        var sectionHeaderOffset = reader.ReadInt64();
        file.Position = 0x3A;
        var sectionHeaderSize = reader.ReadUInt16();
        var sectionCount = reader.ReadUInt16();

        for (var i = 0; i < sectionCount; i++)
        {
            var header = sectionHeaderOffset + (long)i * sectionHeaderSize;
            file.Position = header + 4;
            if (reader.ReadUInt32() != ShtGnuVerneed) continue;
            file.Position = header + 0x18;
            var verneedOffset = reader.ReadInt64();
            file.Position = header + 0x28;
            var stringSection = reader.ReadUInt32();
            var verneedCount = reader.ReadUInt32(); // sh_info: number of Verneed entries

            file.Position = sectionHeaderOffset + (long)stringSection * sectionHeaderSize + 0x18;
            var stringTableOffset = reader.ReadInt64();

            var need = verneedOffset;
            for (var n = 0; n < verneedCount; n++)
            {
                file.Position = need + 2;
                var auxCount = reader.ReadUInt16();
                file.Position = need + 8;
                var auxOffset = reader.ReadUInt32();
                var nextNeed = reader.ReadUInt32();
                var aux = need + auxOffset;
                for (var a = 0; a < auxCount; a++)
                {
                    file.Position = aux + 4;
                    var flags = reader.ReadUInt16();
                    file.Position = aux + 8;
                    var name = ReadString(reader, stringTableOffset + reader.ReadUInt32());
                    file.Position = aux + 12;
                    var nextAux = reader.ReadUInt32();
                    if (name == versionName)
                    {
                        if ((flags & VerFlgWeak) != 0) return "already weak";
                        file.Position = aux + 4;
                        file.Write(BitConverter.GetBytes((ushort)(flags | VerFlgWeak)), 0, 2);
                        return "marked weak";
                    }
                    aux += nextAux;
                }
                if (nextNeed == 0) break;
                need += nextNeed;
            }
        }
        return "no such version requirement";
    }

    private static string ReadString(BinaryReader reader, long offset)
    {
        reader.BaseStream.Position = offset;
        var bytes = new System.Collections.Generic.List<byte>();
        for (int b; (b = reader.ReadByte()) != 0;) bytes.Add((byte)b);
        return Encoding.ASCII.GetString(bytes.ToArray());
    }
}
