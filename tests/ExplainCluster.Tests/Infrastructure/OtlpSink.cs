using System.Net;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>
/// An OTLP/HTTP endpoint on loopback that keeps every request body as sent (protobuf: its strings are plain
/// UTF-8 in the bytes), so a test can search what a process exported. Answers 200 to everything.
/// </summary>
public sealed class OtlpSink : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<byte[]> _bodies = [];
    private readonly Task _serving;

    public OtlpSink()
    {
        Url = $"http://127.0.0.1:{Programs.FreePort()}/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public string Url { get; }

    /// <summary>Every body received so far, concatenated.</summary>
    public byte[] Received
    {
        get { lock (_bodies) return [.. _bodies.SelectMany(b => b)]; }
    }

    public int Requests
    {
        get { lock (_bodies) return _bodies.Count; }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            lock (_bodies) _bodies.Add(body.ToArray());
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _serving.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { /* stopped */ }
    }
}
