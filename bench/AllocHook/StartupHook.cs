using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

/// <summary>
/// Loaded by the runtime before Main when named in <c>DOTNET_STARTUP_HOOKS</c>: listens to the runtime's allocation-tick events
/// (one about every 100 KB allocated, per heap: small objects, large objects, pinned) and every 5 s appends the running totals
/// by type and heap to <c>$ALLOC_HOOK_OUT.PID</c>, so a pass's allocation is the difference of two blocks. The events are
/// sampled, so a type's total is right to about 100 KB times the number of its ticks; no stacks.
/// </summary>
internal static class StartupHook
{
    private static AllocationListener? _listener;

    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable("ALLOC_HOOK_OUT") is not { } path) return;
        path += "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        _listener = new AllocationListener();
        new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(5000);
                var block = new StringBuilder().AppendLine(CultureInfo.InvariantCulture, $"== {DateTime.UtcNow:HH:mm:ss}");
                foreach (var (key, bytes) in _listener.Totals.OrderByDescending(t => t.Value).Take(40))
                    block.AppendLine(CultureInfo.InvariantCulture, $"{bytes / 1e6,10:F1} MB {key}");
                File.AppendAllText(path, block.ToString());
            }
        }) { IsBackground = true, Name = "alloc-hook" }.Start();
    }

    private sealed class AllocationListener : EventListener
    {
        public ConcurrentDictionary<string, long> Totals { get; } = new();

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventId != 10 || e.Payload is null || e.PayloadNames is null) return; // GCAllocationTick
            var (amount, kind, type) = (0L, 0u, "?");
            for (var i = 0; i < e.PayloadNames.Count; i++)
                switch (e.PayloadNames[i])
                {
                    case "AllocationAmount64": amount = Convert.ToInt64(e.Payload[i], CultureInfo.InvariantCulture); break;
                    case "AllocationKind": kind = Convert.ToUInt32(e.Payload[i], CultureInfo.InvariantCulture); break;
                    case "TypeName": type = e.Payload[i]?.ToString() ?? "?"; break;
                }
            var heap = kind switch { 1 => "LOH", 2 => "POH", _ => "SOH" };
            Totals.AddOrUpdate($"{heap} {type}", amount, (_, total) => total + amount);
            Totals.AddOrUpdate($"{heap} total", amount, (_, total) => total + amount);
        }
    }
}
