using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace ExplainCluster.Grains;

/// <summary>The <c>Ranges</c> section: how explain outcomes reach the job grain (<see cref="RangeGrain"/>).</summary>
public sealed class RangeOptions
{
    public const string Section = "Ranges";

    /// <summary>Shards per range grain; 0 sends every outcome to the job grain on its own, as before ranges.</summary>
    public int Size { get; set; } = 64;

    /// <summary>
    /// Zero (the default): a range hands up what it holds at once, unless a hand-up is under way; then what arrives meanwhile
    /// goes with the next, so hand-ups batch exactly when the job grain is slow to take them, and an outcome waits no longer
    /// than that (the job frees the attempt's slot on its silo when it takes it). Above zero: a range holds outcomes until its
    /// block is complete or this long, whichever comes first (fewer messages; each outcome's slot waits as long).
    /// </summary>
    public TimeSpan FlushAfter { get; set; } = TimeSpan.Zero;

    /// <summary>How long a range waits before it tries again a hand-up the job could not take.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a shard grain that handed its outcome to a range still answers that it runs: past it, the job's lease probe
    /// takes the outcome from the attempt's staging (the range was lost with its silo). Longer than <see cref="FlushAfter"/>.
    /// </summary>
    public TimeSpan ReportGrace { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Held outcomes' bytes past which a range hands up at once: a hand-up stays far below Orleans' 100 MB message cap.</summary>
    public const long MaxHeldBytes = 16L << 20;

    /// <summary>The range grain of <paramref name="shard"/>, and its block's shard count, in a job of <paramref name="shards"/>; null without ranges.</summary>
    public (string Key, int Shards)? RangeOf(string jobId, int shard, int shards)
    {
        if (Size <= 0) return null;
        var range = shard / Size;
        return ($"{jobId}/{range}", Math.Min(Size, shards - range * Size));
    }
}

/// <summary>
/// One block of a job's shards (<see cref="IRangeGrain"/>): holds the explain outcomes its shard attempts report, and hands
/// them up in shard order: at once, batching what arrives while a hand-up is under way, or (with
/// <see cref="RangeOptions.FlushAfter"/>) once every shard of the block has reported or that long after. Nothing is persisted: an outcome lost with this grain's silo is taken by the job from the
/// attempt's staging (its lease probe finds the attempt no longer running), so no finished shard runs again. The job merges
/// the outcomes itself, in shard order: the summary is the same, byte for byte, whatever the ranges.
/// </summary>
public sealed partial class RangeGrain(IGrainFactory grains, IOptions<RangeOptions> options, ILocalSiloDetails silo, ILogger<RangeGrain> logger)
    : Grain, IRangeGrain
{
    private readonly SortedDictionary<(int Shard, int Attempt), ShardPartial> _held = [];

    // The shards that reported to this activation: once the block's all have, it is handed up without waiting.
    private readonly HashSet<int> _reported = [];
    private long _heldBytes;

    // Ticks while held outcomes are not handed up at once (FlushAfter) or a hand-up failed: it hands up again.
    private IGrainTimer? _timer;

    // A hand-up under way, and whether outcomes arrived meanwhile (they go with the next, right after it).
    private bool _handing, _again;

    private string Key => this.GetPrimaryKeyString();

    private string JobId => Key[..Key.LastIndexOf('/')];

    public override Task OnActivateAsync(CancellationToken ct)
    {
        LogActivated(logger, Key);
        return Task.CompletedTask;
    }

    Task IRangeGrain.ReportAsync(ShardPartial outcome, int shards)
    {
        if (_held.TryAdd((outcome.ShardIndex, outcome.Attempt), outcome)) _heldBytes += Weight(outcome);
        _reported.Add(outcome.ShardIndex);
        var after = options.Value.FlushAfter;
        if (after <= TimeSpan.Zero || _reported.Count >= shards || _heldBytes >= RangeOptions.MaxHeldBytes) HandUpSoon();
        else Tick(after);
        return Task.CompletedTask;
    }

    /// <summary>Starts a hand-up, not awaited (the reports that arrive meanwhile are taken); or, if one is under way, another after it.</summary>
    private void HandUpSoon()
    {
        if (_handing)
        {
            _again = true;
            return;
        }
        _handing = true;
        _ = HandUpLoopAsync();

        async Task HandUpLoopAsync()
        {
            var handed = true;
            try
            {
                do
                {
                    _again = false;
                    handed = await HandUpAsync();
                }
                while (handed && _again && _held.Count > 0);
            }
            finally
            {
                _handing = false;
            }
            if (!handed) Tick(options.Value.FlushAfter > TimeSpan.Zero ? options.Value.FlushAfter : RangeOptions.RetryAfter);
            else if (_held.Count == 0)
            {
                _timer?.Dispose();
                _timer = null;
            }
        }
    }

    /// <summary>A timer that hands up what is held every <paramref name="period"/>, until nothing is.</summary>
    private void Tick(TimeSpan period) =>
        _timer ??= this.RegisterGrainTimer(() => { HandUpSoon(); return Task.CompletedTask; }, new GrainTimerCreationOptions(period, period) { KeepAlive = true });

    /// <summary>
    /// Hands up what the range holds, in shard order, up to <see cref="RangeOptions.MaxHeldBytes"/> of it (what is left goes with
    /// the next hand-up, right after); false when the job could not be reached (it is still held).
    /// </summary>
    private async Task<bool> HandUpAsync()
    {
        if (_held.Count == 0) return true;
        var weight = 0L;
        var batch = _held.TakeWhile(h => (weight += Weight(h.Value)) <= RangeOptions.MaxHeldBytes || weight == Weight(h.Value)).ToArray();
        if (batch.Length < _held.Count) _again = true;
        try { await grains.GetGrain<IJobGrain>(JobId).RangeReportedAsync([.. batch.Select(b => b.Value)]); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The job's silo is being replaced, or the job threw: held, and handed up again (the job ignores what it has).
            LogHandUpRetry(logger, Key, batch.Length, e.GetType().Name);
            return false;
        }
        ExplainMetrics.RangeHandUps.Add(1, new KeyValuePair<string, object?>("silo", silo.SiloAddress.ToString()));
        foreach (var (key, outcome) in batch)
            if (_held.Remove(key)) _heldBytes -= Weight(outcome);
        return true;
    }

    /// <summary>
    /// What an outcome weighs against <see cref="RangeOptions.MaxHeldBytes"/>: its statistics' bytes, or an eighth of the cap for
    /// one sent by reference, which the job reads from storage in the hand-up's turn (a hand-up reads eight at most).
    /// </summary>
    private static long Weight(ShardPartial outcome) => outcome.Staged ? RangeOptions.MaxHeldBytes / 8 : outcome.ApproxBytes;

    [LoggerMessage(Level = LogLevel.Information, Message = "Range {Range} holds its block's outcomes on this silo")]
    private static partial void LogActivated(ILogger logger, string range);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Range {Range}: {Count} outcomes could not be handed to the job ({Error}); trying again")]
    private static partial void LogHandUpRetry(ILogger logger, string range, int count, string error);
}
