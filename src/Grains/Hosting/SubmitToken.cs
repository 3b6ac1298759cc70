using System.Security.Cryptography;
using System.Text;
using ExplainCluster.Contracts;
using Orleans.Runtime;

namespace ExplainCluster.Grains.Hosting;

/// <summary>
/// Who may use a cluster: with <c>Cluster:SubmitToken</c> (or <c>Cluster:SubmitTokenFile</c>, e.g. a mounted
/// Kubernetes Secret) set, every call to a job or shard grain must carry that token. Clients send it in the
/// request context; silos stamp it on their own calls, so shard outcomes and job-to-shard calls pass. A call
/// without it is refused with one line; nothing else about the cluster is told.
/// </summary>
public static class SubmitToken
{
    public const string ContextKey = "explain.token";

    /// <summary>The environment variables the CLI reads the token from (never the command line, which other users can see).</summary>
    public const string Variable = "EXPLAIN_SUBMIT_TOKEN";
    public const string FileVariable = "EXPLAIN_SUBMIT_TOKEN_FILE";

    public const string Refusal = "the cluster refused the call: it needs the submit token (set " + Variable + " or " + FileVariable + ")";

    /// <summary>The token a client sends: from <see cref="Variable"/>, else the file named by <see cref="FileVariable"/>.</summary>
    public static string? FromEnvironment() =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } token ? token
        : Environment.GetEnvironmentVariable(FileVariable) is { Length: > 0 } file ? Read(file, FileVariable)
        : null;

    /// <summary>A token file's first line, without surrounding whitespace.</summary>
    public static string Read(string path, string setting)
    {
        try
        {
            var token = File.ReadAllText(path).Trim();
            return token.Length > 0 ? token : throw new Engine.ExplainException($"{setting}: {path} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Engine.ExplainException($"{setting}: {path} cannot be read: {e.Message.Split('\n')[0]}");
        }
    }

    internal static bool Matches(string? sent, string expected) =>
        sent is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(expected));
}

/// <summary>On a silo with a submit token: refuses calls to the job and shard grains that lack it, and stamps it on the silo's own calls.</summary>
internal sealed class SubmitTokenFilter(string token) : IIncomingGrainCallFilter, IOutgoingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        var guarded = context.InterfaceMethod?.DeclaringType is { } type && (type == typeof(IJobGrain) || type == typeof(IShardGrain));
        if (guarded && !SubmitToken.Matches(RequestContext.Get(SubmitToken.ContextKey) as string, token))
            throw new UnauthorizedAccessException(SubmitToken.Refusal);
        return context.Invoke();
    }

    public Task Invoke(IOutgoingGrainCallContext context)
    {
        RequestContext.Set(SubmitToken.ContextKey, token);
        return context.Invoke();
    }
}

/// <summary>On a client: sends the token with every call.</summary>
public sealed class ClientTokenFilter(string token) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
    {
        RequestContext.Set(SubmitToken.ContextKey, token);
        return context.Invoke();
    }
}
