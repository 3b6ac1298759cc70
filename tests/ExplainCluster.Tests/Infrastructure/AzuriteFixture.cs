using System.Diagnostics;
using Azure.Storage.Blobs;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>
/// A real Azurite blob endpoint (npm package, installed by the test command into ./node_modules) on a
/// free loopback port, started for the test class and stopped after it.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private Process? _process;
    private string _folder = "";

    public int Port { get; private set; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={Key};BlobEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;";

    public BlobServiceClient Service => new(ConnectionString);

    /// <summary>
    /// A new container holding the demo model (<c>model.pt</c>) and the first <paramref name="count"/> Fashion-MNIST
    /// test images and labels (<c>data/images.npy</c>, <c>data/labels.npy</c>); the same .npy files stay in <paramref name="folder"/>.
    /// </summary>
    public async Task<(BlobContainerClient Container, string Images, string Labels)> FashionContainerAsync(string folder, int count, string prefix)
    {
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, count);
        var container = Service.GetBlobContainerClient($"{prefix}-{Guid.NewGuid():N}");
        await container.CreateAsync();
        await container.UploadBlobAsync("model.pt", File.OpenRead(TestPaths.Sample("model.pt")));
        await container.UploadBlobAsync("data/images.npy", File.OpenRead(images));
        await container.UploadBlobAsync("data/labels.npy", File.OpenRead(labels));
        return (container, images, labels);
    }

    public async Task InitializeAsync()
    {
        _folder = TestPaths.NewFolder();
        Port = Programs.FreePort();
        await StartAsync();
    }

    /// <summary>
    /// Stops Azurite (SIGINT: it closes its store and saves its state; what still holds the process after
    /// 5 s, such as idle keep-alive connections, is ended with SIGKILL). The port refuses connections until
    /// <see cref="StartAsync"/>.
    /// </summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited) return;
        using (var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); await _process.WaitForExitAsync(); }
        _process.Dispose();
        _process = null;
    }

    /// <summary>Starts Azurite on <see cref="Port"/> over the same storage folder.</summary>
    public async Task StartAsync()
    {
        var azurite = FindAzurite();
        var start = new ProcessStartInfo(azurite)
        {
            ArgumentList = { "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--location", _folder, "--silent", "--skipApiVersionCheck", "--loose" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("azurite did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Programs.WaitForPortAsync(Port, _process, TimeSpan.FromSeconds(30));
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false }) _process.Kill(entireProcessTree: true);
        _process?.WaitForExit(5000);
        _process?.Dispose();
        return Task.CompletedTask;
    }

    private static string FindAzurite()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", ".bin", "azurite-blob");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("azurite-blob not found in any node_modules above the tests; run the README's test command (it runs npm ci)");
    }
}
