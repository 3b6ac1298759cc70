using System.Runtime.CompilerServices;

// The param-grads tests reach the code reader (ScriptCode, ExpressionParser) and a deliberately wrong fast path.
[assembly: InternalsVisibleTo("ExplainCluster.Tests")]
