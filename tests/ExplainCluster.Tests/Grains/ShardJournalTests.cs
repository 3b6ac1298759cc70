using ExplainCluster.Contracts;
using ExplainCluster.Grains;
using ExplainCluster.Grains.Passes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace ExplainCluster.Tests.Grains;

public class ShardJournalTests
{
    /// <summary>
    /// The job grain saves after a completion's turn and logs a failed save (JobGrain.SaveSoon): the shards of a block whose
    /// write failed stay noted, so the next write writes that block, and only it; the journal read back equals the book.
    /// </summary>
    [Fact]
    public async Task Write_OneBlockFails_TheNextWriteWritesItAndTheJournalEqualsTheBook()
    {
        using var services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(JobRecord).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var storage = new SerializedStorage(serializer);
        var record = new JobRecord();
        record.Plan(JobPass.Explain, [.. Enumerable.Range(0, 70).Select(i => new ShardSpec(i, i * 10L, 10))]);
        var journal = new ShardJournal(storage, "j");
        Assert.Equal(3, await journal.WriteAsync(record)); // 70 shards: blocks of 32, 32 and 6

        var book = record.Books[JobPass.Explain];
        book.NewAttempt(5);
        book.NewAttempt(40);
        Assert.True(book.Accept(40, 1, "silo-a", 2.5));
        storage.Failing = "j/Explain/1";
        await Assert.ThrowsAsync<IOException>(() => journal.WriteAsync(record));
        Assert.Equal(["j/Explain/0"], storage.Written.Skip(3));

        storage.Failing = null;
        Assert.Equal(1, await journal.WriteAsync(record));
        Assert.Equal(["j/Explain/0", "j/Explain/1"], storage.Written.Skip(3));
        Assert.Equal(0, await journal.WriteAsync(record));

        var loaded = new JobRecord { BookSizes = new(record.BookSizes) };
        await new ShardJournal(storage, "j").LoadAsync(loaded);
        Assert.Equal(serializer.SerializeToArray(book.Records), serializer.SerializeToArray(loaded.Books[JobPass.Explain].Records));
        Assert.Equal((1, 2), (loaded.Books[JobPass.Explain].DoneCount, loaded.Books[JobPass.Explain].Attempts));
    }

    /// <summary>Grain storage that keeps each state as the Orleans serializer writes it, and fails writes to one key on request.</summary>
    private sealed class SerializedStorage(Serializer serializer) : IGrainStorage
    {
        private readonly Dictionary<GrainId, (byte[] Bytes, string ETag)> _states = [];

        public string? Failing { get; set; }

        public List<string> Written { get; } = [];

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (_states.TryGetValue(grainId, out var stored))
                (grainState.State, grainState.ETag, grainState.RecordExists) = (serializer.Deserialize<T>(stored.Bytes), stored.ETag, true);
            return Task.CompletedTask;
        }

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            var key = grainId.Key.ToString()!;
            if (key == Failing) return Task.FromException(new IOException($"{key}: write refused"));
            var etag = Guid.NewGuid().ToString("N");
            _states[grainId] = (serializer.SerializeToArray(grainState.State), etag);
            (grainState.ETag, grainState.RecordExists) = (etag, true);
            Written.Add(key);
            return Task.CompletedTask;
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            _states.Remove(grainId);
            return Task.CompletedTask;
        }
    }
}
