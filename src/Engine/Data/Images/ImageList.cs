using System.Globalization;
using System.Security.Cryptography;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// A job's image files in dataset order, with their labels: a folder read recursively, sorted by path as torchvision's
/// ImageFolder orders it (folder by folder, names compared as Python compares strings), the first folder under it the
/// class; or a manifest's rows (CSV or Parquet), in the manifest's order, paths relative to the manifest.
/// </summary>
public sealed class ImageList
{
    /// <summary>The extensions read from a folder (torchvision's IMG_EXTENSIONS that SkiaSharp decodes); other files are skipped, as ImageFolder does.</summary>
    public static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp"];

    private ImageList(string[] locations, long[]? labels, string[] classes, TextColumn[]? metadata = null, TarMember[]? members = null, string[]? tars = null)
    {
        Locations = locations;
        Labels = labels;
        Classes = classes;
        Metadata = metadata;
        Members = members;
        Sources = tars ?? locations;
    }

    /// <summary>For tar shards, each image's member (its range of its tar); null for files.</summary>
    public TarMember[]? Members { get; }

    /// <summary>The files the images are read from: the images themselves, or the tar shards.</summary>
    public string[] Sources { get; }

    /// <summary>Each image's location (an absolute path or a URL), as errors name it.</summary>
    public string[] Locations { get; }

    public long[]? Labels { get; }

    /// <summary>The class names the labels index (model.classes when the job gives them).</summary>
    public string[] Classes { get; }

    /// <summary>A manifest's <c>data.metadata</c> columns, one value per image (null: an empty field); null without them.</summary>
    public TextColumn[]? Metadata { get; }

    /// <summary>The metadata of images [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>).</summary>
    public TextColumn[]? MetadataOf(long start, int count) =>
        Metadata?.Select(c => new TextColumn(c.Name, c.Values[(int)start..(int)(start + count)])).ToArray();

    public static async Task<ImageList> OpenAsync(JobSpec job, BlobLocator locator, CancellationToken ct)
    {
        var images = job.Data.Images ?? throw new InvalidOperationException("not an image dataset");
        var list = images.Manifest ? await ManifestAsync(job.Data.Inputs, images, job.Model.Classes, locator, ct)
            : images.Tar ? await TarAsync(job.Data.Inputs, job.Model.Classes, locator, ct)
            : Folder(job.Data.Inputs, images.LabelsFromFolders, job.Model.Classes);
        if (list.Locations.Length == 0)
            throw new ExplainException(images.Manifest ? $"data.manifest: {job.Data.Inputs} lists no images"
                : images.Tar ? $"data.tar: {job.Data.Inputs} holds no images ({string.Join(", ", Extensions)})"
                : $"data.images: {job.Data.Inputs} holds no images ({string.Join(", ", Extensions)})");
        return list;
    }

    /// <summary>
    /// SHA-256 over the manifest's bytes (when there is one) and every image, each as its name (relative to the folder or
    /// the manifest's folder) and its bytes, in dataset order; with <c>"onBadSample": "skip"</c>, a missing image is hashed as a marker.
    /// </summary>
    public async Task<string> Sha256Async(JobSpec job, BlobLocator locator, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Task AppendAsync(string location) => NamedHash.AppendBytesAsync(hash, locator.Resolve(location), ct);
        if (Members is not null)
        {
            // Tar shards: each tar's name and bytes, in order (its members' names and bytes are in them).
            foreach (var tar in Sources)
            {
                var path = tar.Split('?')[0]; // a listed blob's location carries the prefix's SAS token, which is no part of its name
                await NamedHash.AppendAsync(hash, path[(path.LastIndexOf('/') + 1)..], locator.Resolve(tar), ct);
            }
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        var manifest = job.Data.Images is { Manifest: true };
        var skip = job.Data.Images is { OnBadSample: BadSamplePolicy.Skip };
        if (manifest) await AppendAsync(job.Data.Inputs);
        var root = manifest ? job.Data.Inputs[..(job.Data.Inputs.Split('?')[0].LastIndexOf('/') + 1)] : job.Data.Inputs.TrimEnd('/') + "/";
        foreach (var location in Locations)
        {
            var name = location.StartsWith(root, StringComparison.Ordinal) ? location[root.Length..] : location;
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\0"));
            // A job that skips bad images runs without a missing one: its hash stands for "no file" (a file is never hashed as nothing).
            if (skip && !await locator.Resolve(location).ExistsAsync(ct)) hash.AppendData("\0missing"u8);
            else await AppendAsync(location);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static ImageList Folder(string folder, bool labelsFromFolders, string[]? modelClasses)
    {
        if (BlobLocator.IsRemote(folder))
            throw new ExplainException($"data.images: {folder}: listing a container is not supported yet; list the images in a manifest (data.manifest)");
        if (!Directory.Exists(folder)) throw new ExplainException($"data.images: {folder} is not a folder");
        string[][] files;
        try
        {
            files = [.. Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Select(f => Path.GetRelativePath(folder, f).Split(Path.DirectorySeparatorChar))
                .OrderBy(parts => parts, PathOrder.Instance)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExplainException($"data.images: {folder} cannot be listed: {e.Message}", e);
        }
        var locations = files.Select(parts => Path.Combine([folder, .. parts])).ToArray();
        if (!labelsFromFolders) return new ImageList(locations, null, modelClasses ?? []);
        var loose = files.FirstOrDefault(parts => parts.Length == 1);
        if (loose is not null)
            throw new ExplainException($"data.labels: \"folders\" takes the first folder under {folder} as the class, but {loose[0]} is in no folder");
        var names = files.Select(parts => parts[0]).ToArray();
        var classes = modelClasses ?? [.. names.Distinct().Order(StringComparer.Ordinal)];
        return new ImageList(locations, Indices(names, classes, modelClasses is not null, "folder", folder), classes);
    }

    private static async Task<ImageList> ManifestAsync(string manifest, ImagesSpec images, string[]? modelClasses, BlobLocator locator, CancellationToken ct)
    {
        var blob = locator.Resolve(manifest);
        if (!await blob.ExistsAsync(ct)) throw new ExplainException($"data.manifest: {manifest} does not exist");
        ManifestTable table;
        await using (var stream = await blob.OpenReadAsync(ct))
            table = await ManifestTable.ReadAsync(stream, manifest,
                [images.PathColumn!, .. images.LabelColumn is { } l ? [l] : Array.Empty<string>(), .. images.Metadata ?? []], ct);
        var path = table.Column(images.PathColumn!, "data.path", manifest);
        var locations = new string[table.Rows.Count];
        for (var r = 0; r < locations.Length; r++)
        {
            var value = table.Rows[r][path].Trim();
            if (value.Length == 0) throw new ExplainException($"{manifest}: row {r + 1}: column \"{images.PathColumn}\" is empty");
            locations[r] = Resolve(manifest, value);
        }
        var metadata = images.Metadata?.Select((name, i) =>
        {
            var column = table.Column(name, $"data.metadata[{i}]", manifest);
            return new TextColumn(name, [.. table.Rows.Select(row => row[column].Length == 0 ? null : row[column])]);
        }).ToArray();
        if (images.LabelColumn is not { } labelColumn) return new ImageList(locations, null, modelClasses ?? [], metadata);
        var label = table.Column(labelColumn, "data.label", manifest);
        var values = table.Rows.Select(row => row[label].Trim()).ToArray();
        if (values.All(v => long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            var numbers = values.Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            if (modelClasses is not null && numbers.FirstOrDefault(n => n >= modelClasses.Length) is var high && high >= modelClasses.Length)
                throw new ExplainException($"{manifest}: label {high} is not below the {modelClasses.Length} classes of model.classes");
            return new ImageList(locations, numbers, modelClasses ?? [], metadata);
        }
        var classes = modelClasses ?? [.. values.Distinct().Order(StringComparer.Ordinal)];
        return new ImageList(locations, Indices(values, classes, modelClasses is not null, "label", manifest), classes, metadata);
    }

    /// <summary>
    /// WebDataset shards (<c>data.tar</c>): one .tar, or every .tar in a folder or under a container prefix sorted by name; in each, a sample is the members
    /// that share a key (the member's name up to the first dot of its file name), in the tar's order: one image (an extension
    /// of <see cref="Extensions"/>) and, for its label, an optional <c>KEY.cls</c> holding the class index as text. Every sample
    /// has a .cls, or none has. Only the members' headers are read (<see cref="TarIndex"/>).
    /// </summary>
    private static async Task<ImageList> TarAsync(string location, string[]? modelClasses, BlobLocator locator, CancellationToken ct)
    {
        string[] tars;
        if (location.Split('?')[0].EndsWith(".tar", StringComparison.OrdinalIgnoreCase)) tars = [location];
        else if (BlobLocator.IsRemote(location) && locator.Resolve(location) is AzureBlob prefix)
            tars = [.. (await prefix.ListAsync(ct)).Where(t => t.Split('?')[0].EndsWith(".tar", StringComparison.OrdinalIgnoreCase))];
        else if (!Directory.Exists(location)) throw new ExplainException($"data.tar: {location} is neither a .tar file nor a folder");
        else tars = [.. Directory.GetFiles(location, "*.tar").Order(StringComparer.Ordinal)];
        if (tars.Length == 0) throw new ExplainException($"data.tar: {location} holds no .tar files");
        var (locations, members, classText) = (new List<string>(), new List<TarMember>(), new List<string?>());
        foreach (var tar in tars)
        {
            var blob = locator.Resolve(tar);
            if (!await blob.ExistsAsync(ct)) throw new ExplainException($"data.tar: {tar} does not exist");
            var samples = await TarSamples.OfAsync(blob, tar, ct);
            locations.AddRange(samples.Locations);
            members.AddRange(samples.Images);
            classText.AddRange(samples.Classes);
        }
        if (classText.All(c => c is null)) return new ImageList([.. locations], null, modelClasses ?? [], members: [.. members], tars: tars);
        var labels = new long[classText.Count];
        for (var i = 0; i < labels.Length; i++)
        {
            labels[i] = classText[i] is { } text && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
                : throw new ExplainException(classText[i] is null ? $"data.tar: {locations[i]} has no .cls beside it, and other samples do"
                    : $"data.tar: {locations[i]}: its .cls holds \"{classText[i]}\", not a class index");
            if (modelClasses is not null && labels[i] >= modelClasses.Length)
                throw new ExplainException($"data.tar: {locations[i]}: label {labels[i]} is not below the {modelClasses.Length} classes of model.classes");
        }
        return new ImageList([.. locations], labels, modelClasses ?? [], members: [.. members], tars: tars);
    }

    /// <summary>
    /// One tar's samples: each image's location (<c>TAR#MEMBER</c>) and member, and its .cls text (null without one). Read once per
    /// tar in a process (every shard of a job opens the dataset; a tar of another length is read again), so the headers and .cls
    /// members are not read by every shard.
    /// </summary>
    private sealed record TarSamples(string[] Locations, TarMember[] Images, string?[] Classes)
    {
        private const int Cached = 1024;

        private static readonly Dictionary<(string Location, long Length), TarSamples> Read = [];

        public static async Task<TarSamples> OfAsync(IBlob blob, string tar, CancellationToken ct)
        {
            var key = (tar, await blob.LengthAsync(ct));
            lock (Read)
                if (Read.TryGetValue(key, out var known)) return known;
            var samples = new List<(string Key, TarMember? Image, TarMember? Cls)>();
            var byKey = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var member in await TarIndex.ReadAsync(blob, tar, ct))
            {
                var slash = member.Name.LastIndexOf('/') + 1;
                var dot = member.Name.IndexOf('.', slash);
                if (dot < 0) continue;
                var (name, extension) = (member.Name[..dot], member.Name[dot..].ToLowerInvariant());
                var image = Extensions.Contains(extension);
                if (!image && extension != ".cls") continue;
                if (!byKey.TryGetValue(name, out var at)) (byKey[name], at) = (samples.Count, samples.Count);
                if (at == samples.Count) samples.Add((name, null, null));
                var sample = samples[at];
                if ((image ? sample.Image : sample.Cls) is not null)
                    throw new ExplainException($"data.tar: {tar}: sample \"{name}\" has two {(image ? "images" : ".cls members")}");
                samples[at] = image ? sample with { Image = member } : sample with { Cls = member };
            }
            var classes = new string?[samples.Count];
            for (var i = 0; i < samples.Count; i++)
            {
                var (name, image, cls) = samples[i];
                if (image is null) throw new ExplainException($"data.tar: {tar}: sample \"{name}\" has a .cls but no image ({string.Join(", ", Extensions)})");
                classes[i] = cls is null ? null : System.Text.Encoding.UTF8.GetString(await blob.ReadRangeAsync(cls.Offset, (int)Math.Min(cls.Size, 64), ct)).Trim();
            }
            var read = new TarSamples([.. samples.Select(s => $"{tar}#{s.Image!.Name}")], [.. samples.Select(s => s.Image!)], classes);
            lock (Read)
            {
                if (Read.Count >= Cached) Read.Clear();
                Read[key] = read;
            }
            return read;
        }
    }

    /// <summary>A manifest's path: absolute, a URL, or relative to the manifest's own folder (or prefix).</summary>
    private static string Resolve(string manifest, string path)
    {
        if (BlobLocator.IsRemote(path) || Path.IsPathRooted(path)) return BlobLocator.Absolute(path, "/");
        if (!BlobLocator.IsRemote(manifest)) return BlobLocator.Absolute(path, Path.GetDirectoryName(manifest)!);
        var query = manifest.IndexOf('?');
        var bare = query < 0 ? manifest : manifest[..query];
        return bare[..(bare.LastIndexOf('/') + 1)] + path + (query < 0 ? "" : manifest[query..]);
    }

    private static long[] Indices(string[] names, string[] classes, bool fromModel, string what, string where)
    {
        var index = classes.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => (long)p.i, StringComparer.Ordinal);
        return [.. names.Select(n => index.TryGetValue(n, out var i) ? i
            : throw new ExplainException(fromModel ? $"{where}: {what} \"{n}\" is not one of model.classes" : $"{where}: {what} \"{n}\" is not a class"))];
    }

    /// <summary>
    /// ImageFolder's order: by class folder, then by folder path as a string (Python's <c>sorted(os.walk(...))</c>),
    /// then by file name, each compared in code points.
    /// </summary>
    private sealed class PathOrder : IComparer<string[]>
    {
        public static readonly PathOrder Instance = new();

        public int Compare(string[]? a, string[]? b)
        {
            var c = string.CompareOrdinal(a!.Length > 1 ? a[0] : "", b!.Length > 1 ? b[0] : "");
            if (c == 0) c = string.CompareOrdinal(string.Join('/', a[..^1]), string.Join('/', b[..^1]));
            return c != 0 ? c : string.CompareOrdinal(a[^1], b[^1]);
        }
    }
}
