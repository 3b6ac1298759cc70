using System.Diagnostics;
using System.Globalization;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>
/// A tmpfs of a few MB mounted on a fresh folder: a disk that fills up for real (ENOSPC from the kernel, as a full
/// volume gives), which no quota-free trick reproduces (root ignores permissions, /dev/full is one file). Mounting needs
/// root or CAP_SYS_ADMIN; where the OS refuses, <see cref="Mount"/> says why and the test is skipped.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    private SmallDisk(string path) => Path = path;

    public string Path { get; }

    /// <summary>A mounted tmpfs of <paramref name="megabytes"/> MB, or null and why it cannot be had here.</summary>
    public static (SmallDisk? Disk, string? Why) Mount(int megabytes)
    {
        var path = TestPaths.NewFolder();
        var (exit, output) = Run("mount", "-t", "tmpfs", "-o", string.Create(CultureInfo.InvariantCulture, $"size={megabytes}m"), "tmpfs", path);
        return exit == 0 ? (new SmallDisk(path), null) : (null, $"cannot mount a {megabytes} MB tmpfs here (needs root or CAP_SYS_ADMIN): {output.Trim()}");
    }

    public void Dispose() => Run("umount", "--lazy", Path);

    private static (int Exit, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{program}: {e.Message}");
        }
    }
}
