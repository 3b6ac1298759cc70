using System.Text;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Concepts;

/// <summary>
/// A job's concept activation vectors (Kim et al. 2018), trained once per job: for each run r and each concept c, the unit normal
/// of a linear classifier (<see cref="LogisticCav"/>) separating <see cref="Examples"/> drawn examples of c from as many drawn
/// random examples (the run's random set), both as activations at <see cref="Layer"/>; and for each run a random-vs-random CAV,
/// the run's random set against a second, disjoint draw of random examples: the null distribution the t-test compares with.
/// Row (set s, run r) is <c>s · Runs + r</c>, the random-vs-random CAVs being set <see cref="RandomSet"/> (after the concepts).
/// </summary>
/// <param name="Vectors">[(concepts + 1) · runs, Dim], each of unit length.</param>
/// <param name="Accuracy">Each CAV's accuracy on the examples it was fitted to, in the rows' order.</param>
/// <param name="Sets">Each set's examples and hash, concepts then random (<see cref="ConceptSets.Records"/>).</param>
public sealed record ConceptVectors(string Layer, string[] Concepts, int Runs, int Examples, int Dim, double[] Vectors, double[] Accuracy, ConceptSetRecord[] Sets)
{
    private const string Magic = "explaincluster.cav/1";

    /// <summary>The set index of the random-vs-random CAVs.</summary>
    public int RandomSet => Concepts.Length;

    /// <summary>How many CAVs there are: one per (set, run), the random-vs-random set included.</summary>
    public int Count => (Concepts.Length + 1) * Runs;

    public ReadOnlySpan<double> Vector(int row) => Vectors.AsSpan(row * Dim, Dim);

    /// <summary>Trains the job's CAVs on the model host's thread: activations of every example at the layer, then each run's draws and classifiers.</summary>
    public static ConceptVectors Train(ExplainModel model, JobSpec job, ConceptSets sets, CancellationToken ct = default, BatchClock? clock = null)
    {
        var spec = job.Concepts ?? throw new InvalidOperationException("the job has no concepts");
        var examples = sets.Examples(spec);
        var split = ConceptLayer.Split(model, spec.Layer, job, sets.Random);
        // Every example's activations, concepts then random, as one float64 matrix [N, D] kept on the CPU.
        var all = sets.Concepts.Append(sets.Random).ToArray();
        var offsets = new int[all.Length];
        for (var s = 1; s < all.Length; s++) offsets[s] = offsets[s - 1] + all[s - 1].Count;
        using var scope = NewDisposeScope();
        var activations = cat([.. all.Select(set => ConceptLayer.Activations(model, split, job, set, ct, clock))], 0);
        var dim = (int)activations.shape[1];
        var gram = activations.mm(activations.t()).contiguous().data<double>().ToArray();
        var x = activations.contiguous().data<double>().ToArray();
        var total = (int)activations.shape[0];

        var concepts = spec.Sets.Length;
        var vectors = new double[(concepts + 1) * spec.Runs * dim];
        var accuracy = new double[(concepts + 1) * spec.Runs];
        var random = offsets[concepts];
        for (var run = 0; run < spec.Runs; run++)
        {
            ct.ThrowIfCancellationRequested();
            // The run's random set, and a second, disjoint one for its random-vs-random CAV.
            var pool = Draw(spec.Seed, run, concepts, sets.Random.Count);
            var negatives = pool.Take(examples).Select(i => random + i).ToArray();
            var other = pool.Skip(examples).Take(examples).Select(i => random + i).ToArray();
            for (var c = 0; c <= concepts; c++)
            {
                clock?.Tick(); // each classifier counts as a batch for the watchdog
                var positives = c == concepts ? other : [.. Draw(spec.Seed, run, c, all[c].Count).Take(examples).Select(i => offsets[c] + i)];
                var row = c * spec.Runs + run;
                (accuracy[row], var ok) = Fit(gram, total, x, dim, positives, negatives, vectors.AsSpan(row * dim, dim));
                if (!ok)
                    throw new ExplainException(c == concepts
                        ? $"concepts.random: the random examples' activations at layer \"{spec.Layer}\" do not differ from each other; TCAV needs varied random examples"
                        : $"concepts.sets.{spec.Sets[c].Name}: its examples' activations at layer \"{spec.Layer}\" do not differ from the random examples'");
            }
        }
        return new ConceptVectors(spec.Layer, [.. spec.Sets.Select(s => s.Name)], spec.Runs, examples, dim, vectors, accuracy, sets.Records(spec));
    }

    /// <summary>A seeded permutation of 0..count−1 for (run, set): Fisher–Yates on SplitMix64 numbers (<see cref="SampleSeeds"/>) from (seed, run, set).</summary>
    public static int[] Draw(int seed, int run, int set, int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var stream = (long)SampleSeeds.For(seed, ((long)set << 32) | (uint)run);
        for (var i = count - 1; i > 0; i--)
        {
            var j = (int)((SampleSeeds.For(stream, i) >> 11) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>One CAV from the examples at <paramref name="positives"/> and <paramref name="negatives"/> (rows of the activations): its unit normal and accuracy; false when it has none.</summary>
    private static (double Accuracy, bool Ok) Fit(double[] gram, int total, double[] x, int dim, int[] positives, int[] negatives, Span<double> cav)
    {
        int[] rows = [.. positives, .. negatives];
        var n = rows.Length;
        var sub = new double[n * n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++) sub[i * n + j] = gram[(long)rows[i] * total + rows[j]];
        var fit = LogisticCav.Solve(sub, [.. rows.Select((_, i) => i < positives.Length)]);
        cav.Clear();
        for (var i = 0; i < n; i++)
        {
            var example = x.AsSpan(rows[i] * dim, dim);
            for (var d = 0; d < dim; d++) cav[d] += fit.Alpha[i] * example[d];
        }
        var norm = 0.0;
        foreach (var v in cav) norm += v * v;
        norm = Math.Sqrt(norm);
        if (!(norm > 0) || !double.IsFinite(norm)) return (fit.Accuracy, false);
        for (var d = 0; d < dim; d++) cav[d] /= norm;
        return (fit.Accuracy, true);
    }

    /// <summary>The vectors as an attempt stages them (and the explain attempts read them): a header, then the raw doubles.</summary>
    public byte[] Encode()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Layer);
            w.Write(Concepts.Length);
            foreach (var c in Concepts) w.Write(c);
            w.Write(Runs);
            w.Write(Examples);
            w.Write(Dim);
            PartialIO.Write(w, Vectors);
            PartialIO.Write(w, Accuracy);
            WriteSets(w, Sets);
        }
        return stream.ToArray();
    }

    /// <summary>The sets' records as the CAV file and the TCAV partial write them.</summary>
    public static void WriteSets(BinaryWriter w, ConceptSetRecord[] sets)
    {
        w.Write(sets.Length);
        foreach (var s in sets)
        {
            w.Write(s.Name);
            w.Write(s.Examples);
            w.Write(s.Sha256);
        }
    }

    public static ConceptSetRecord[] ReadSets(BinaryReader r)
    {
        var sets = new ConceptSetRecord[r.ReadInt32()];
        for (var i = 0; i < sets.Length; i++) sets[i] = new ConceptSetRecord(r.ReadString(), r.ReadInt32(), r.ReadString());
        return sets;
    }

    /// <param name="location">Named in the error when the bytes are not a CAV file.</param>
    public static ConceptVectors Decode(byte[] data, string location)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(data, writable: false), Encoding.UTF8);
            if (r.ReadString() != Magic) throw new ExplainException($"{location}: not a file of concept activation vectors");
            var layer = r.ReadString();
            var concepts = new string[r.ReadInt32()];
            for (var c = 0; c < concepts.Length; c++) concepts[c] = r.ReadString();
            var (runs, examples, dim) = (r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
            var vectors = new ConceptVectors(layer, concepts, runs, examples, dim, PartialIO.Read<double>(r), PartialIO.Read<double>(r), ReadSets(r));
            if (vectors.Vectors.Length != vectors.Count * dim || vectors.Accuracy.Length != vectors.Count || r.BaseStream.Position != data.Length)
                throw new ExplainException($"{location}: the concept activation vectors' sizes do not agree");
            return vectors;
        }
        catch (EndOfStreamException e)
        {
            throw new ExplainException($"{location}: the concept activation vectors are truncated", e);
        }
    }
}
