using System.Security.Cryptography;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A table given as a folder or a container prefix of parts (Spark's and DuckDB's <c>part-00000.parquet</c>): every
/// <c>.csv</c> or every <c>.parquet</c> file directly under it, in ordinal order of their names; hidden files (a name
/// starting with '.' or '_', such as <c>_SUCCESS</c> or a <c>.crc</c>), other files and subfolders are no parts.
/// </summary>
public static class TableParts
{
    /// <summary>
    /// The parts of <paramref name="location"/> in order, or null when it names one file: a local folder, or a remote
    /// location ending in '/' (or naming no blob but a prefix holding some). A folder with no part, or with parts of both
    /// formats, fails in one line.
    /// </summary>
    public static async Task<string[]?> ListAsync(string location, BlobLocator locator, CancellationToken ct)
    {
        string[] files;
        if (!BlobLocator.IsRemote(location))
        {
            if (!Directory.Exists(location)) return null;
            try { files = [.. Directory.GetFiles(location).Select(Path.GetFileName).Order(StringComparer.Ordinal).Select(name => Path.Combine(location, name!))]; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ExplainException($"data.table: {location} cannot be listed: {e.Message}", e);
            }
        }
        else
        {
            if (locator.Resolve(location) is not AzureBlob prefix) return null;
            var folder = location.Split('?')[0].EndsWith('/');
            if (!folder && await prefix.ExistsAsync(ct)) return null;
            files = await prefix.ListAsync(ct);
            if (!folder && files.Length == 0) return null; // neither a blob nor a prefix: the table "does not exist"
        }
        var parts = files.Where(f => Name(f) is var name && !name.StartsWith('.') && !name.StartsWith('_') && (IsCsv(name) || IsParquet(name))).ToArray();
        if (parts.Length == 0) throw new ExplainException($"data.table: {location} holds no .csv or .parquet parts");
        if (parts.FirstOrDefault(p => IsCsv(Name(p))) is { } csv && parts.FirstOrDefault(p => IsParquet(Name(p))) is { } parquet)
            throw new ExplainException($"data.table: {location} holds both .csv and .parquet parts ({Name(csv)}, {Name(parquet)}); a table's parts are all of one format");
        return parts;
    }

    /// <summary>Whether a part is Parquet (by its name; <see cref="ListAsync"/> leaves only .csv and .parquet).</summary>
    public static bool IsParquetPart(string part) => IsParquet(Name(part));

    /// <summary>
    /// Refuses, in one line naming the part and the column, a part whose columns are not the first part's in the same order.
    /// </summary>
    public static void CheckColumns(string first, string[] expected, string part, string[] columns)
    {
        if (columns.SequenceEqual(expected, StringComparer.Ordinal)) return;
        const string Rule = "every part has the first part's columns, in its order";
        if (expected.FirstOrDefault(c => !columns.Contains(c, StringComparer.Ordinal)) is { } missing)
            throw new ExplainException($"data.table: {part} has no column \"{missing}\", which the first part ({Name(first)}) has; {Rule}");
        if (columns.FirstOrDefault(c => !expected.Contains(c, StringComparer.Ordinal)) is { } extra)
            throw new ExplainException($"data.table: {part} has a column \"{extra}\", which the first part ({Name(first)}) has not; {Rule}");
        var at = Enumerable.Range(0, Math.Min(expected.Length, columns.Length)).FirstOrDefault(i => columns[i] != expected[i], -1);
        throw new ExplainException(at >= 0
            ? $"data.table: {part}: column {at + 1} is \"{columns[at]}\", where the first part ({Name(first)}) has \"{expected[at]}\"; {Rule}"
            : $"data.table: {part} has {columns.Length} columns, the first part ({Name(first)}) {expected.Length}; {Rule}");
    }

    /// <summary>
    /// SHA-256 of a table's inputs: one file's bytes; or every part's name (within the folder) and bytes, in order, so
    /// renaming, reordering, adding or changing a part changes it.
    /// </summary>
    public static async Task<string> Sha256Async(string location, BlobLocator locator, CancellationToken ct)
    {
        var parts = await ListAsync(location, locator, ct);
        if (parts is null)
        {
            await using var stream = await locator.Resolve(location).OpenReadAsync(ct);
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in parts) await NamedHash.AppendAsync(hash, Name(part), locator.Resolve(part), ct);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A listed file's name: after its last '/', without a SAS token's query.</summary>
    public static string Name(string location)
    {
        var path = location.Split('?')[0];
        return path[(path.LastIndexOfAny(['/', Path.DirectorySeparatorChar]) + 1)..];
    }

    private static bool IsCsv(string name) => name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);

    private static bool IsParquet(string name) => name.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);
}
