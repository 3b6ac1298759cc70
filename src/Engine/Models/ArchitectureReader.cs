using ExplainCluster.Engine.Output;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// A TorchScript model's architecture for the manifest: its parameter count and every module by its dotted name, its
/// class and the parameters it holds itself. TorchSharp 0.107's <c>jit.ScriptModule</c> gives the names
/// (<c>named_modules</c>, <c>named_parameters</c>) but no class name (libtorch's <c>original_name</c> is not bound), so
/// the classes come from the archive's own code (<see cref="ScriptCode"/>): each module's class is its attribute's type
/// in its parent's class header, from the root class <c>data.pkl</c> names.
/// </summary>
public static class ArchitectureReader
{
    /// <summary>The type shown for a module whose class is not in the archive's code (or whose code cannot be read).</summary>
    public const string Unknown = "module";

    /// <param name="localPath">The TorchScript file.</param>
    /// <param name="location">Where the job found it, for the error a file that is not TorchScript gives.</param>
    public static ModelArchitecture Read(string localPath, string location)
    {
        using var scope = NewDisposeScope();
        jit.ScriptModule module;
        try
        {
            module = jit.load(localPath, CPU);
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or IOException)
        {
            throw new ExplainException($"model {location} is not a TorchScript file that torch.jit.load can read ({ExplainModel.FirstLine(e.Message)})", e);
        }
        try
        {
            var own = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (name, parameter) in module.named_parameters())
                own[Parent(name)] = own.GetValueOrDefault(Parent(name)) + parameter.numel();
            var classes = Classes(localPath);
            var layers = new List<ModelLayer> { new("", Shown(classes, ""), own.GetValueOrDefault("")) };
            foreach (var (name, child) in module.named_modules())
            {
                if (name.Length == 0) continue;
                child.Dispose();
                layers.Add(new(name, Shown(classes, name), own.GetValueOrDefault(name)));
            }
            return new ModelArchitecture("TorchScript", own.Values.Sum(), [.. layers]);
        }
        finally
        {
            module.Dispose();
        }
    }

    /// <summary>Each module's class by dotted name, as far as the archive's code says; empty when it cannot be read.</summary>
    private static Func<string, ScriptClass?> Classes(string localPath)
    {
        ScriptCode code;
        try
        {
            code = ScriptCode.Read(localPath);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            return _ => null; // the types are then unknown; the names and counts come from libtorch all the same
        }
        var known = new Dictionary<string, ScriptClass?>(StringComparer.Ordinal) { [""] = code.Classes.GetValueOrDefault(code.Root) };
        ScriptClass? Of(string name)
        {
            if (known.TryGetValue(name, out var cls)) return cls;
            var leaf = name[(name.LastIndexOf('.') + 1)..];
            var type = Of(Parent(name))?.Attributes.FirstOrDefault(a => a.Name == leaf).Type;
            return known[name] = type is null ? null : code.Classes.GetValueOrDefault(type);
        }
        return Of;
    }

    private static string Shown(Func<string, ScriptClass?> classes, string name) => classes(name)?.Shown ?? Unknown;

    private static string Parent(string dotted) => dotted.LastIndexOf('.') is var dot and >= 0 ? dotted[..dot] : "";
}
