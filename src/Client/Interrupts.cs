using System.Runtime.InteropServices;

namespace ExplainCluster.Client;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM while a command runs. The first cancels <see cref="Token"/> and keeps the process alive,
/// so the command can stop what it started (cancel its job, stop watching) and exit with <see cref="ExitCode"/>; a
/// second one is left to the system's default, which ends the process at once. The CLI's hosts leave both signals
/// alone (<see cref="CliLifetime"/>): the generic host's console lifetime would take Ctrl-C and stop nothing.
/// </summary>
public sealed class Interrupts : IDisposable
{
    /// <summary>The shell's codes for a process ended by SIGINT and by SIGTERM (128 + the signal's number).</summary>
    public const int SigIntExit = 130, SigTermExit = 143;

    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;
    private PosixSignal? _received;

    public Interrupts() =>
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _cancel.Token;

    public bool Interrupted => Token.IsCancellationRequested;

    /// <summary>130 after SIGINT, 143 after SIGTERM.</summary>
    public int ExitCode => _received == PosixSignal.SIGTERM ? SigTermExit : SigIntExit;

    /// <summary>How the signal is named in the console line: "Ctrl-C" or "SIGTERM".</summary>
    public string Name => _received == PosixSignal.SIGTERM ? "SIGTERM" : "Ctrl-C";

    private void OnSignal(PosixSignalContext context)
    {
        lock (_cancel)
        {
            if (_received is not null)
            {
                // The second: the default action ends the process now, whatever it was doing.
                Console.Error.WriteLine("interrupted again: stopping at once; an output left running is taken over by the next run");
                return;
            }
            _received = context.Signal;
        }
        context.Cancel = true;
        _cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _cancel.Dispose();
    }
}
