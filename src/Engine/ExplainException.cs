namespace ExplainCluster.Engine;

/// <summary>
/// A problem with the job or its inputs, stated in one line for the user. Messages name locations, so their
/// secrets (a SAS token in a URL's query, a key in a connection string) are redacted here, once for every
/// place a message goes: the job's error, logs, traces, <c>explain status</c>.
/// </summary>
public sealed class ExplainException(string message, Exception? inner = null) : Exception(Storage.Redaction.Text(message), inner);
