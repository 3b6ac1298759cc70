using System.Text;
using Azure.Storage.Sas;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

/// <summary>SAS tokens given in a job's locations never reach its outputs, its logs or its exported spans and metrics.</summary>
public class SecretsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Run_WithSasUrls_TheTokenIsInNoOutputFileLogLineOrExportedSpan()
    {
        var folder = TestPaths.NewFolder();
        var (container, _, _) = await azurite.FashionContainerAsync(folder, 200, "sas");
        var sas = container.GenerateSasUri(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1));
        string Url(string path) => $"{sas.GetLeftPart(UriPartial.Path)}/{path}{sas.Query}";
        // The secret is the signature, in the query URL-encoded; search for both spellings.
        var signature = System.Web.HttpUtility.ParseQueryString(sas.Query)["sig"]!;
        string[] secrets = [signature, Uri.EscapeDataString(signature)];
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(Url("data/images.npy"), Url("data/labels.npy"), Url("out"), shardSize: 64, model: Url("model.pt")));
        Assert.Contains(Uri.EscapeDataString(signature), await File.ReadAllTextAsync(job)); // the test's input holds it

        using var otlp = new OtlpSink();
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3),
            new Dictionary<string, string> { ["OpenTelemetry__Otlp__Endpoint"] = otlp.Url, ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf" },
            "run", job, "--verbose");
        Assert.True(run.ExitCode == 0, run.ToString());

        // Every file the job wrote.
        var files = new List<string>();
        await foreach (var item in container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = "out/" }))
        {
            files.Add(item.Name);
            var content = (await container.GetBlobClient(item.Name).DownloadContentAsync()).Value.Content.ToArray();
            foreach (var secret in secrets) Assert.False(Contains(content, secret), $"{item.Name} holds the SAS signature");
        }
        Assert.Contains("out/manifest.json", files);
        Assert.Contains("out/report.html", files);
        Assert.True(files.Count > 20, string.Join(", ", files));
        var manifest = (await container.GetBlobClient("out/manifest.json").DownloadContentAsync()).Value.Content.ToString();
        Assert.Contains($"model.pt?{Redaction.Marker}", manifest); // named, without the token
        Assert.Contains("\"jobFile\"", manifest);

        // Every log line (--verbose: everything, Orleans' own included) and the CLI's output.
        Assert.True(run.Stderr.Split('\n').Length > 50, "verbose logging wrote almost nothing: the search would prove nothing");
        foreach (var secret in secrets) Assert.DoesNotContain(secret, run.Stdout + run.Stderr);

        // Every span and metric exported over OTLP.
        Assert.True(otlp.Requests > 0, "nothing was exported");
        Assert.True(Contains(otlp.Received, "job.start"), "the export holds no job span");
        foreach (var secret in secrets) Assert.False(Contains(otlp.Received, secret), "an exported span or metric holds the SAS signature");
    }

    [Theory]
    [InlineData("https://acct.blob.core.windows.net/c/model.pt?sv=2024&sig=abc%2Bdef", "https://acct.blob.core.windows.net/c/model.pt?…redacted")]
    [InlineData("az://c/data/x.npy", "az://c/data/x.npy")]
    [InlineData("/data/x.npy", "/data/x.npy")]
    public void Location_DropsTheQuery(string location, string expected) => Assert.Equal(expected, Redaction.Location(location));

    [Fact]
    public void Text_RedactsQueriesAndConnectionStringSecrets()
    {
        const string text = "model http://127.0.0.1:1/devstoreaccount1/c/m.pt?sv=1&sig=SECRET1 failed; "
            + "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=SECRET2;BlobEndpoint=http://x/a;";
        var redacted = Redaction.Text(text);
        Assert.DoesNotContain("SECRET", redacted);
        Assert.Contains("m.pt?…redacted failed", redacted);
        Assert.Contains("AccountKey=…redacted", redacted);
        Assert.Contains("AccountName=a", redacted);
    }

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;
}
