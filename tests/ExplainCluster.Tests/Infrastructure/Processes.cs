using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>The built programs of this repository (explain, explain-silo) and free loopback ports.</summary>
public static class Programs
{
    /// <summary>The apphost of a project under src/, from the build of the same configuration as these tests.</summary>
    public static string Path(string project, string assembly)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{System.IO.Path.DirectorySeparatorChar}Debug{System.IO.Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(System.IO.Path.Combine(dir.FullName, "ExplainCluster.sln"))) continue;
            var candidate = System.IO.Path.Combine(dir.FullName, "src", project, "bin", configuration, "net10.0", assembly);
            if (File.Exists(candidate)) return candidate;
            throw new InvalidOperationException($"{candidate} is not built; build the solution first");
        }
        throw new InvalidOperationException("ExplainCluster.sln not found above the tests");
    }

    public static string Silo => Path("Silo", "explain-silo");

    public static string Cli => Path("Client", "explain");

    // Ports handed out so far, from below the kernel's ephemeral range: a port the kernel picks for a listener on port 0
    // is one it may also give the next outbound connection (to Redis, Azurite, a silo), which then holds it when the
    // process it was meant for binds it ("Address already in use", seen in CI). Below that range only listeners bind.
    private static int _nextPort = 20_000 + Environment.ProcessId % 500 * 20;

    public static int FreePort()
    {
        for (var tries = 0; tries < 2_000; tries++)
        {
            var port = 20_000 + (Interlocked.Increment(ref _nextPort) - 20_000) % 12_000;
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(IPAddress.Any, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken: try the next.
            }
        }
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task WaitForPortAsync(int port, Process process, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }
}

/// <summary>A real redis-server (Debian package) on a free loopback port, with nothing saved to disk.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port) => (_process, Port) = (process, port);

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <param name="port">The port to listen on (one a silo was already told to use); default: a free one.</param>
    public static async Task<RedisServer> StartAsync(int? port = null)
    {
        var executable = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed; run the README's test command (it installs the Debian package)");
        port ??= Programs.FreePort();
        var start = new ProcessStartInfo(executable)
        {
            ArgumentList = { "--port", port.Value.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", TestPaths.NewFolder() },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await Programs.WaitForPortAsync(port.Value, process, TimeSpan.FromSeconds(20));
        return new RedisServer(process, port.Value);
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(5000);
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>One <c>explain-silo</c> process on loopback, joined to a Redis cluster; its log lines are kept.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new(), _errors = new();

    private SiloProcess(Process process, string redis, int siloPort, int gatewayPort, int healthPort)
    {
        (_process, Redis, SiloPort, GatewayPort, HealthPort) = (process, redis, siloPort, gatewayPort, healthPort);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            _lines.Enqueue(e.Data);
            _errors.Enqueue(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The Redis connection string of the cluster it joined.</summary>
    public string Redis { get; }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    /// <summary>The health endpoint's HTTP port.</summary>
    public int HealthPort { get; }

    /// <summary>How the silo names itself in manifests and statuses ("S127.0.0.1:PORT:…").</summary>
    public string AddressPrefix => $"S127.0.0.1:{SiloPort.ToString(CultureInfo.InvariantCulture)}:";

    public bool HasExited => _process.HasExited;

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Its stderr lines only (also in <see cref="Lines"/>).</summary>
    public IReadOnlyCollection<string> Errors => _errors;

    public int ExitCode => _process.ExitCode;

    public string Log => string.Join('\n', _lines);

    /// <summary>Whether job <paramref name="jobId"/> started on this silo (its job grain was placed here).</summary>
    public bool Holds(string jobId) => _lines.Any(l => l.Contains($"Job {jobId} started", StringComparison.Ordinal));

    /// <summary>Starts a worker silo (one model-host thread, one intra-op thread) and waits until it has joined.</summary>
    public static async Task<SiloProcess> StartAsync(string redis, params (string Key, string Value)[] settings)
    {
        var silo = Launch(redis, settings);
        await silo.JoinedAsync(TimeSpan.FromSeconds(90));
        return silo;
    }

    /// <summary>Starts a worker silo and returns at once; <see cref="JoinedAsync"/> waits for it to join.</summary>
    public static SiloProcess Launch(string redis, params (string Key, string Value)[] settings)
    {
        var siloPort = Programs.FreePort();
        var gatewayPort = Programs.FreePort();
        var healthPort = Programs.FreePort();
        var start = new ProcessStartInfo(Programs.Silo) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.NewFolder() };
        var environment = new Dictionary<string, string>
        {
            ["Cluster__Provider"] = "redis",
            ["Cluster__Redis"] = redis,
            ["Cluster__SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
            ["Cluster__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Health__Port"] = healthPort.ToString(CultureInfo.InvariantCulture),
            ["ModelHost__WorkerThreads"] = "1",
            ["ModelHost__IntraOpThreads"] = "1",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Orleans"] = "Warning",
            ["Logging__LogLevel__Orleans.Runtime.MembershipService.MembershipAgent"] = "Information",
            ["Logging__LogLevel__Microsoft"] = "Warning",
            ["Logging__LogLevel__Polly"] = "Warning",
        };
        foreach (var (key, value) in settings) environment[key] = value;
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException("explain-silo did not start");
        return new SiloProcess(process, redis, siloPort, gatewayPort, healthPort);
    }

    /// <summary>Waits until the silo is active in the membership table (joined, not only listening) and its health port answers.</summary>
    public async Task JoinedAsync(TimeSpan timeout)
    {
        await WaitForLineAsync("Finished BecomeActive", timeout);
        await HealthPortOpenAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits until the health endpoint listens (it starts at once, beside the silo's own start).</summary>
    public Task HealthPortOpenAsync(TimeSpan timeout) => Programs.WaitForPortAsync(HealthPort, _process, timeout);

    /// <summary>Waits for a log line containing <paramref name="text"/>; throws with the log if the silo exits first.</summary>
    public async Task WaitForLineAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            if (_process.HasExited) throw new InvalidOperationException($"explain-silo exited with {_process.ExitCode}:\n{Log}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"explain-silo logged no \"{text}\" in {timeout.TotalSeconds:0} s:\n{Log}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits for the process to exit by itself; its output is read to the end.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>SIGTERM, as Kubernetes stops a pod: the silo leaves the cluster and exits. Returns how long it took.</summary>
    public async Task<TimeSpan> TerminateAsync()
    {
        var watch = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
        return watch.Elapsed;
    }

    /// <summary>
    /// Makes this silo a slow machine until the returned handle is disposed: stopped (SIGSTOP) for
    /// <paramref name="stoppedMs"/> of every 100 ms. Probes still get answers well within their timeout.
    /// </summary>
    public IAsyncDisposable Throttle(int stoppedMs)
    {
        var stop = new CancellationTokenSource();
        var pid = _process.Id;
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                _ = Signal(pid, SigStop);
                await Task.Delay(stoppedMs, CancellationToken.None);
                _ = Signal(pid, SigCont);
                await Task.Delay(100 - stoppedMs, CancellationToken.None);
            }
        });
        return new Throttled(stop, loop, pid);
    }

    private const int SigCont = 18, SigStop = 19;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);

    private sealed class Throttled(CancellationTokenSource stop, Task loop, int pid) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await loop;
            _ = Signal(pid, SigCont);
            stop.Dispose();
        }
    }

    /// <summary>kill -9: no shutdown, no goodbye to the cluster.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10000);
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>One run of the <c>explain</c> CLI: exit code, stdout and stderr.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string LastLine => Stdout.TrimEnd().Split('\n')[^1].Trim();

    public static Task<CliResult> RunAsync(TimeSpan timeout, params string[] args) => RunAsync(timeout, new Dictionary<string, string>(), args);

    /// <param name="environment">Variables set for this run only (settings such as OpenTelemetry__Otlp__Endpoint).</param>
    public static async Task<CliResult> RunAsync(TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(Programs.Cli) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("explain did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"explain {string.Join(' ', args)} ran past {timeout}; stdout so far:\n{await stdout}\nstderr:\n{await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}
