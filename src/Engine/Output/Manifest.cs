using System.Text.Json;
using System.Text.Json.Serialization;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Output;

/// <summary>
/// manifest.json: what ran, on what, and whether it finished. <c>completed</c> is written last.
/// <see cref="Drift"/>: with a <c>compare</c> gate, the thresholds the comparison crossed (the job still completed).
/// <see cref="ParamGradLayers"/>: with param-grads, its layers (the columns of its maps) and how each was computed.
/// The provenance fields after Drift were added later (optional, so older manifests still read): <see cref="Architecture"/>,
/// the model's parameter count and modules (read when the job starts, written at completion); <see cref="Seeds"/>, every
/// seed the job's random choices use, by where it is set in the job file (defaults included); <see cref="Silos"/>, the
/// silos whose attempts made the outputs; <see cref="TraceId"/>, the job's distributed trace when it was traced; <see cref="Maps"/>,
/// how the per-sample maps under attributions/ were written (dtype, channels, resolution, which samples; read them with
/// <see cref="StoredMaps"/>).
/// </summary>
public sealed record Manifest(
    string Job,
    string JobId,
    string Status,
    string? Error,
    string Model,
    string? ModelSha256,
    string Inputs,
    string? InputsSha256,
    string? Labels,
    string? LabelsSha256,
    long Samples,
    int[] SampleShape,
    int Classes,
    string[] Methods,
    string Target,
    int ShardSize,
    ManifestShard[] Shards,
    Dictionary<string, string> Versions,
    DateTimeOffset Started,
    DateTimeOffset? Finished,
    double? Seconds,
    JsonElement JobFile,
    ParamGradLayer[]? ParamGradLayers = null,
    string[]? Drift = null,
    ModelArchitecture? Architecture = null,
    Dictionary<string, long>? Seeds = null,
    string[]? Silos = null,
    string? TraceId = null,
    MapsSpec? Maps = null)
{
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        // Class names and redaction markers (…) as they are, not as \uXXXX escapes.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Create(System.Text.Unicode.UnicodeRanges.All),
    };

    public static Dictionary<string, string> SoftwareVersions() => new()
    {
        ["explaincluster"] = typeof(Manifest).Assembly.GetName().Version?.ToString() ?? "unknown",
        ["torchsharp"] = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "unknown",
        ["libtorch"] = "2.10.0",
        ["orleans"] = typeof(IGrainFactory).Assembly.GetName().Version?.ToString() ?? "unknown",
        ["dotnet"] = Environment.Version.ToString(),
    };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);
}

/// <summary>One shard: its range, and once the job completed, the silo and attempt that produced its files and how many attempts it took.</summary>
public sealed record ManifestShard(int Index, long Start, long Count, string? Silo, double? Seconds, int? Attempt, int? Attempts);

/// <summary>The model as the job read it: its file format, its parameter count and every module (the model itself first, as name "").</summary>
public sealed record ModelArchitecture(string Format, long Parameters, ModelLayer[] Layers);

/// <summary>A module by its dotted name ("features.0"), its class ("Conv2d"; "module" when unknown) and the parameters it holds itself.</summary>
public sealed record ModelLayer(string Name, string Type, long Parameters);
