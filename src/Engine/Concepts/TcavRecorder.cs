using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;

namespace ExplainCluster.Engine.Concepts;

/// <summary>A shard's TCAV results: for each sample and CAV (<see cref="ConceptVectors"/>' rows), whether its directional derivative is positive.</summary>
/// <param name="Positive">[samples, CAVs] row-major, 1 where the derivative is &gt; 0.</param>
/// <param name="Alpha">The job's significance level, carried to the summary.</param>
public sealed record TcavResult(ConceptVectors Vectors, byte[] Positive, double Alpha);

/// <summary>
/// Takes each batch's directional derivatives along the job's CAVs in the explain pass (<see cref="ConceptLayer.Derivatives"/>), reusing
/// the shared pass's layer gradient when the methods split the model at the same layer, and keeps their signs.
/// </summary>
public sealed class TcavRecorder(ExplainModel model, ConceptVectors vectors, ILayerSplit split, bool sharedLayer, int samples, double alpha)
{
    private readonly byte[] _positive = new byte[samples * vectors.Count];

    public void Add(int start, GradientBatch batch)
    {
        var derivatives = ConceptLayer.Derivatives(model, split, batch.Input, batch.Targets, vectors, sharedLayer ? batch.FeatureGrad : null);
        for (var k = 0; k < derivatives.Length; k++) _positive[start * vectors.Count + k] = derivatives[k] > 0 ? (byte)1 : (byte)0;
    }

    public TcavResult Result() => new(vectors, _positive, alpha);
}
