using System.CommandLine;
using ExplainCluster.Client;

return await Cli.Build().Parse(args).InvokeAsync();
