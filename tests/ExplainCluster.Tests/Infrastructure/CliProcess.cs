using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>
/// One <c>explain</c> process running in the background, as a user's terminal holds it: signals can be sent to it
/// (Ctrl-C is SIGINT) and it is waited for to the end. Killed with its tree if a test leaves it running.
/// </summary>
public sealed class CliProcess : IAsyncDisposable
{
    public const int SigInt = 2, SigTerm = 15;

    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();

    private CliProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.Append(e.Data).Append('\n'); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static CliProcess Start(params string[] args)
    {
        // Through env(1), which restores Ctrl-C's default and then execs explain in its place (the same process): a test run
        // started in the background by a non-interactive shell inherits SIGINT ignored, and a user at a terminal never has it so.
        var start = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in (string[])["--default-signal=INT", Programs.Cli, .. args]) start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("explain did not start");
        process.StandardInput.Close();
        return new CliProcess(process);
    }

    public string Stdout
    {
        get { lock (_stdout) return _stdout.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Sends <paramref name="signal"/> (<see cref="SigInt"/>, <see cref="SigTerm"/>) to the process.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits until stdout has a line containing <paramref name="text"/>; throws with the output if the process exits first.</summary>
    public async Task WaitForStdoutAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
                throw new TimeoutException($"explain printed no \"{text}\" ({(_process.HasExited ? "it exited" : "timed out")}):\n{Stdout}\n{Stderr()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits for the process to exit by itself: its exit code and all it printed.</summary>
    public async Task<CliResult> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"explain ran past {timeout}:\n{Stdout}\n{Stderr()}"); }
        return new CliResult(_process.ExitCode, Stdout, Stderr());
    }

    private string Stderr()
    {
        lock (_stderr) return _stderr.ToString();
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10000);
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"explain (pid {_process.Id})");

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
