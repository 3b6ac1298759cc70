namespace ExplainCluster.Engine;

/// <summary>A problem with the job or its inputs, stated in one line for the user.</summary>
public sealed class ExplainException(string message, Exception? inner = null) : Exception(message, inner);
