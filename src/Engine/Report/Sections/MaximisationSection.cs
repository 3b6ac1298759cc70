using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Views;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Activation maximisation: each class's logit before and after, and the inputs that maximise each class and each Grad-CAM channel.</summary>
public sealed class MaximisationSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Views?.Maximisation is not { } maximisation) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder("<p>For each class, the input the model finds most typical of it: gradient ascent on the ")
            .Append("class logit from seeded noise, kept smooth by jitter, blur and penalties (Olah et al., 2017). Stripes and textures rather ")
            .Append("than objects mean the model keys on local patterns. Pictures below.</p><table><tr><th>class</th><th>logit at the start</th><th>logit at the end</th><th>probability</th></tr>");
        foreach (var c in maximisation.Classes)
            html.Append(string.Create(inv, $"<tr><td>{E(c.Name)}</td><td>{c.StartLogit:F2}</td><td>{c.Logit:F2}</td><td>{c.Probability:P1}</td></tr>"));
        return new ReportText("Activation maximisation", html.Append("</table>").ToString());
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.Views?.Maximisation is not { } maximisation) return [];
        var shape = maximisation.Shape;
        var groups = new List<FigureGroup>();
        foreach (var (file, captions, title, name) in new[]
        {
            (maximisation.ClassInputs, maximisation.Classes.Select(c => $"{c.Name}: logit {c.Logit:F1}, p = {c.Probability:P0}").ToArray(), "Activation maximisation: classes", "maximisation-class"),
            (maximisation.ChannelInputs, maximisation.Channels.Select(c => $"layer {c.Layer} channel {c.Channel}: mean activation {c.Activation:F2}").ToArray(), "Activation maximisation: Grad-CAM channels", "maximisation-channel"),
        })
        {
            if (file is null || shape.Length < 2) continue;
            var (channels, height, width) = ReportContext.Planes(shape);
            var maximised = await report.OpenAsync(file, ct);
            var figures = new List<Figure>();
            for (var i = 0; i < captions.Length; i++)
            {
                var image = ReportContext.ChannelMean(await ReportContext.ReadRowAsync(maximised, i, ct), channels, height * width);
                figures.Add(new($"{name}-{i}", captions[i], () => Heatmaps.Grey(image, height, width),
                    string.Create(CultureInfo.InvariantCulture, $"A {height}×{width} grey image, values {image.Min():G3} (black) to {image.Max():G3} (white): {captions[i]}.")));
            }
            groups.Add(new(title, figures));
        }
        return groups;
    }
}
