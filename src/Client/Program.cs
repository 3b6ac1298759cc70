using ExplainCluster.Client;

return await Cli.InvokeAsync(args);
