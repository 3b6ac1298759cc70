using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Storage;

/// <summary>
/// Where a silo lets jobs go. <c>Storage:LocalRoots</c>: the folders under which a job's local inputs, labels
/// and output may be; <c>ModelHost:ModelLocations</c>: the prefixes (local folders, <c>az://container/</c>,
/// URLs) its model may be loaded from — TorchScript is code libtorch runs, so models should come only from
/// places their owners control. Unset means unrestricted. Local paths are compared after <c>..</c> and every
/// symbolic link on the way are resolved, so neither leads out of a root. Remote data is governed by the
/// storage account's own access (the connection string or the SAS a location carries).
/// </summary>
public sealed class LocationPolicy(IReadOnlyList<string>? localRoots, IReadOnlyList<string>? modelLocations)
{
    public const string LocalRootsKey = "Storage:LocalRoots";
    public const string ModelLocationsKey = "ModelHost:ModelLocations";

    private readonly string[]? _roots = localRoots is { Count: > 0 } ? [.. localRoots.Select(root => RealPath(root)).Distinct(StringComparer.Ordinal)] : null;
    private readonly string[]? _models = modelLocations is { Count: > 0 } ? [.. modelLocations] : null;

    public static LocationPolicy Unrestricted { get; } = new(null, null);

    public bool RestrictsLocalPaths => _roots is not null;

    /// <summary>Refuses, in one line naming the field and the rule, a job that reaches outside what this silo allows.</summary>
    public void Check(JobSpec job)
    {
        CheckLocal("data.inputs", job.Data.Inputs);
        if (job.Data.Labels is { } labels) CheckLocal("data.labels", labels);
        CheckLocal("output", job.Output);
        if (job.History is { } history) CheckLocal("history", history);
        if (job.Compare is { Baseline: not CompareSpec.Previous } compare) CheckLocal("compare.baseline", compare.Baseline);
        if (job.Concepts is { } concepts)
        {
            foreach (var set in concepts.Sets) CheckLocal($"concepts.sets.{set.Name}", set.Location);
            CheckLocal("concepts.random", concepts.Random);
        }
        CheckModel(job.Model.Uri);
    }

    /// <summary>
    /// Refuses image files or table parts (a manifest's rows, or a folder's files reached through links) outside the roots: the job's
    /// folder or manifest being under a root says nothing of where its rows or links point.
    /// </summary>
    public void CheckImages(string field, IEnumerable<string> locations)
    {
        if (_roots is null) return;
        foreach (var location in locations) CheckLocal(field, location);
    }

    private void CheckLocal(string field, string location)
    {
        if (_roots is null || BlobLocator.IsRemote(location)) return;
        var real = RealPath(location);
        if (!_roots.Any(root => IsUnder(real, root)))
            throw new ExplainException($"{field}: {location} is outside {LocalRootsKey} ({string.Join(", ", _roots)}); '..' and symbolic links are resolved before this check");
    }

    private void CheckModel(string location)
    {
        if (_models is null) return;
        var remote = BlobLocator.IsRemote(location);
        var real = remote ? location : RealPath(location);
        var allowed = _models.Any(prefix => BlobLocator.IsRemote(prefix) == remote && (remote ? HasPrefix(location, prefix) : IsUnder(real, RealPath(prefix))));
        if (!allowed)
            throw new ExplainException($"model.uri: {location} is not under {ModelLocationsKey} ({string.Join(", ", _models)}); models are code, loaded only from places listed there");
    }

    /// <summary>A URL under a URL prefix, at a path boundary (az://models does not admit az://models-other/).</summary>
    private static bool HasPrefix(string location, string prefix)
    {
        var path = location.Split('?')[0];
        var p = prefix.Split('?')[0];
        if (!path.StartsWith(p, StringComparison.OrdinalIgnoreCase)) return false;
        return p.EndsWith('/') || path.Length == p.Length || path[p.Length] == '/';
    }

    private static bool IsUnder(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    /// <summary>The absolute path with '..' removed and every symbolic link along it replaced by its target.</summary>
    public static string RealPath(string path) => RealPath(Path.GetFullPath(path), depth: 0);

    private static string RealPath(string full, int depth)
    {
        if (depth > 40) throw new ExplainException($"{full}: too many levels of symbolic links");
        var root = Path.GetPathRoot(full) ?? "/";
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is { } target)
                next = RealPath(Path.GetFullPath(target, current), depth + 1);
            current = next;
        }
        return current;
    }
}
