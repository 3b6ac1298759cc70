using System.Globalization;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Report;

/// <summary>How the report's tables write an estimate: its value, then its interval, so no figure from samples stands bare.</summary>
public static class EstimateText
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A proportion as "88.25 % (87.61–88.87 %)"; "–" without samples, the value alone without an interval.</summary>
    public static string Percent(Estimate e) => e.Value is not { } v ? "–"
        : e.Low is { } low && e.High is { } high ? string.Create(Inv, $"{100 * v:F2} % ({100 * low:F2}–{100 * high:F2} %)")
        : string.Create(Inv, $"{100 * v:F2} %");

    /// <summary>A mean as "0.1234 (0.1100 to 0.1368)" with <paramref name="format"/>; "to" because either end may be negative.</summary>
    public static string Number(Estimate e, string format = "F4") => e.Value is not { } v ? "–"
        : e.Low is { } low && e.High is { } high
            ? $"{v.ToString(format, Inv)} ({low.ToString(format, Inv)} to {high.ToString(format, Inv)})"
            : $"{v.ToString(format, Inv)} (n = {e.N}: no interval)";

    /// <summary>
    /// A mean as a table cell: the value, and beneath it in smaller type its interval and n (<c>.ci</c>), so that a table of
    /// several metrics stays within an A4 page's width.
    /// </summary>
    public static string Cell(Estimate e, string format = "F4") => e.Value is not { } v ? "–"
        : e.Low is { } low && e.High is { } high
            ? $"{v.ToString(format, Inv)}<span class=\"ci\">{low.ToString(format, Inv)} to {high.ToString(format, Inv)}, n {e.N}</span>"
            : $"{v.ToString(format, Inv)}<span class=\"ci\">n {e.N}: no interval</span>";

    /// <summary>", 95 % interval 87.60–88.87 %": a proportion's interval as a sentence's clause, at <paramref name="level"/>; nothing without one.</summary>
    public static string IntervalClause(Estimate e, string level, string format) => e is { Low: { } low, High: { } high }
        ? $", {level} interval {(100 * low).ToString(format, Inv)}–{(100 * high).ToString(format, Inv)} %" : "";

    /// <summary>The interval's confidence as the tables' headers say it: "95 %".</summary>
    public static string Level(double confidence) => string.Create(Inv, $"{100 * confidence:0.##} %");
}
