using System.Globalization;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>
/// summary.json's <c>errorTree</c>: the surrogate tree on "misclassified" and its leaves as cohorts, sorted by error rate.
/// </summary>
/// <param name="Columns">What the tree could split on: each feature (a numeric one with its bin edges in its own units) and metadata column.</param>
/// <param name="Methods">The methods whose per-feature |attribution| each leaf averages, in <see cref="ErrorCohort.Attributions"/>' order.</param>
/// <param name="Features">The features each <see cref="ErrorCohortAttributions.MeanAbs"/> is over, in order.</param>
/// <param name="Root">The tree; null when it was not grown (<see cref="NotGrown"/> says why).</param>
/// <param name="BinSample">The rows of the sample the numeric bins were fixed from (<see cref="ErrorTreeFeature.SampleSize"/> at most; all of a smaller table's).</param>
public sealed record ErrorTreeSummary(int Depth, int MinLeaf, int Bins, double Confidence, long Samples, long Errors, string Criterion,
    ErrorTreeColumn[] Columns, string[] Methods, string[] Features, ErrorTreeNode? Root, ErrorCohort[] Leaves, string? NotGrown = null, int BinSample = 0);

/// <param name="Kind">"numeric", "categorical" or "metadata".</param>
/// <param name="Edges">A numeric feature's bin edges in its own units (a bin holds the values above one edge and at most the next).</param>
/// <param name="Levels">A categorical column's levels (a metadata column's missing value is "(missing)").</param>
/// <param name="Split">False for a metadata column with more than <see cref="ErrorTreeSummaries.MaxMetadataLevels"/> levels (an identifier), which the tree leaves alone.</param>
public sealed record ErrorTreeColumn(string Name, string Kind, double[]? Edges, string[]? Levels, bool Split);

/// <summary>A node: the condition that leads to it from its parent (null at the root), its samples and error rate, and its children (none for a leaf, which has its cohort number).</summary>
public sealed record ErrorTreeNode(string? Condition, long N, long Errors, Estimate ErrorRate, int? Leaf, ErrorTreeNode[] Children);

/// <summary>A leaf as a cohort: the rule its samples satisfy, how many, the error rate with Wilson's interval, its share of every error, and its mean |attribution| per method.</summary>
public sealed record ErrorCohort(int Leaf, string Rule, long N, long Errors, Estimate ErrorRate, double ErrorCoverage, ErrorCohortAttributions[] Attributions);

/// <param name="Samples">The leaf's samples the method explained.</param>
/// <param name="MeanAbs">Per feature (<see cref="ErrorTreeSummary.Features"/>), the mean |attribution| over them.</param>
public sealed record ErrorCohortAttributions(string Method, long Samples, double[] MeanAbs);

/// <summary>The grown tree as summary.json's section, and its rules written out.</summary>
public static class ErrorTreeSummaries
{
    /// <summary>The most levels a metadata column may have for the tree to split on it.</summary>
    public const int MaxMetadataLevels = 64;

    public const string Missing = "(missing)";

    public const string Criterion =
        "LightGBM's split gain on misclassified (one tree of a binary classifier, as RAI's error analysis fits it): G_L²/H_L + G_R²/H_R − G²/H, "
        + "gradients p₀ − y and hessians p₀(1 − p₀) from the whole table's error rate p₀; a split needs every side to keep minLeaf samples and a positive gain";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The grown tree (<see cref="ErrorTreeGrowth.Done"/>) as its section: rules, Wilson intervals, each leaf's mean |attribution|.</summary>
    public static ErrorTreeSummary Of(ErrorTreeGrowth grown, double confidence)
    {
        if (!grown.Done) throw new InvalidOperationException("the error tree is not grown yet");
        var treeColumns = grown.Usable.Select(c => c.Tree).ToArray();
        var (samples, errors) = (grown.Nodes[0].N, grown.Nodes[0].Errors);
        var leaves = new List<ErrorCohort>();
        var f = grown.Features.Length;

        ErrorTreeNode Draw(int k, string? condition, PathState path)
        {
            var node = grown.Nodes[k];
            var rate = Intervals.Wilson(node.Errors, node.N, confidence);
            if (node.Split is not { } split)
            {
                var number = leaves.Count + 1;
                var attributions = grown.Methods.Select((method, m) =>
                {
                    var explained = node.Explained[m];
                    return new ErrorCohortAttributions(method, explained,
                        [.. Enumerable.Range(0, f).Select(j => explained == 0 ? 0 : ExactSum.Of(node.Sums[m * f + j]).Value / explained)]);
                }).ToArray();
                leaves.Add(new ErrorCohort(number, path.Rule(treeColumns), node.N, node.Errors, rate, errors == 0 ? 0 : (double)node.Errors / errors, attributions));
                return new ErrorTreeNode(condition, node.N, node.Errors, rate, number, []);
            }
            var column = treeColumns[split.Column];
            var (leftText, rightText) = split.Left is { } set
                ? (Allowed(column, set), Allowed(column, [.. set.Select(x => !x)]))
                : ($"{column.Name} ≤ {Number(column.Raw(split.Threshold))}", $"{column.Name} > {Number(column.Raw(split.Threshold))}");
            return new ErrorTreeNode(condition, node.N, node.Errors, rate, null,
                [Draw(node.Left, leftText, path.With(split, true, column)), Draw(node.Right, rightText, path.With(split, false, column))]);
        }

        var tree = Draw(0, null, PathState.Empty);
        var sorted = leaves.Order(Comparer<ErrorCohort>.Create((a, b) =>
            (b.Errors * a.N).CompareTo(a.Errors * b.N) is var r and not 0 ? r : a.Leaf.CompareTo(b.Leaf))).ToArray();
        return new ErrorTreeSummary(grown.Options.Depth, grown.Options.MinLeaf, grown.Options.Bins, confidence, samples, errors, Criterion,
            [.. grown.Columns.Select(c => c.Summary)], grown.Methods, [.. grown.Features.Select(x => x.Name)], tree, sorted, BinSample: grown.SampleRows);
    }

    /// <summary>A categorical condition by the shorter list: the levels allowed when they are at most half, else those excluded.</summary>
    private static string Allowed(TreeColumn column, bool[] allowed) =>
        allowed.Count(a => a) * 2 <= allowed.Length ? LevelsText(column, allowed, true) : LevelsText(column, [.. allowed.Select(a => !a)], false);

    private static string LevelsText(TreeColumn column, bool[] set, bool inSet)
    {
        var chosen = column.Levels!.Where((_, b) => set[b]).ToArray();
        return chosen.Length == 1 ? $"{column.Name} {(inSet ? "=" : "≠")} {chosen[0]}" : $"{column.Name} {(inSet ? "in" : "not in")} {{{string.Join(", ", chosen)}}}";
    }

    private static string Number(double value) => value.ToString("G6", Inv);

    /// <summary>What a path has said of each column: a numeric one's bins (above <c>Low</c>, at most <c>High</c>), a categorical one's levels still allowed.</summary>
    private sealed record PathState(IReadOnlyList<(int Column, int Low, int High, bool[]? Allowed)> Columns)
    {
        public static PathState Empty { get; } = new([]);

        public PathState With(TreeSplit split, bool left, TreeColumn column)
        {
            var list = Columns.ToList();
            var at = list.FindIndex(x => x.Column == split.Column);
            (int Column, int Low, int High, bool[]? Allowed) state = at >= 0 ? list[at]
                : (split.Column, -1, column.Bins - 1, split.Left is null ? null : Enumerable.Repeat(true, column.Bins).ToArray());
            state = split.Left is { } set
                ? state with { Allowed = [.. state.Allowed!.Select((a, b) => a && set[b] == left)] }
                : left ? state with { High = Math.Min(state.High, split.Threshold) } : state with { Low = Math.Max(state.Low, split.Threshold) };
            if (at >= 0) list[at] = state;
            else list.Add(state);
            return new PathState(list);
        }

        /// <summary>The conditions joined by "and", a column once each, in the order the path first met them.</summary>
        public string Rule(TreeColumn[] columns) => Columns.Count == 0 ? "all samples" : string.Join(" and ", Columns.Select(s =>
        {
            var column = columns[s.Column];
            if (s.Allowed is { } allowed) return Allowed(column, allowed);
            return (s.Low >= 0, s.High < column.Bins - 1) switch
            {
                (true, true) => $"{Number(column.Raw(s.Low))} < {column.Name} ≤ {Number(column.Raw(s.High))}",
                (true, false) => $"{column.Name} > {Number(column.Raw(s.Low))}",
                _ => $"{column.Name} ≤ {Number(column.Raw(s.High))}",
            };
        }));
    }
}

/// <summary>summary.json's <c>errorTree</c>, read as its record.</summary>
public static class SummaryErrorTree
{
    extension(Summary summary)
    {
        /// <summary>Null unless the job grew an error tree (a table with labels, <c>errorTree</c> not false).</summary>
        public ErrorTreeSummary? ErrorTree => summary.Section<ErrorTreeSummary>(ErrorTreeFeature.Instance.Section);
    }
}
