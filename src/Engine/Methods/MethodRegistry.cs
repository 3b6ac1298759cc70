using System.Diagnostics.CodeAnalysis;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Methods;

/// <summary>How a method is named in job files and made from its options.</summary>
public sealed record MethodDescriptor(string Name, bool NeedsLayer, Func<MethodSpec, IAttributionMethod> Create);

/// <summary>The methods a job may name. A new method is one more line here and one small class.</summary>
public static class MethodRegistry
{
    private static readonly Dictionary<string, MethodDescriptor> Methods = new MethodDescriptor[]
    {
        new("saliency", false, _ => new Saliency()),
        new("grad-x-input", false, _ => new GradTimesInput()),
        new("grad-cam", true, spec => new GradCam(spec.Layer!)),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    public static IEnumerable<string> Names => Methods.Keys;

    public static bool TryGet(string name, [NotNullWhen(true)] out MethodDescriptor? descriptor) =>
        Methods.TryGetValue(name, out descriptor);

    public static IAttributionMethod Create(MethodSpec spec) => Methods[spec.Name].Create(spec);
}
