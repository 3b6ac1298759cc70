namespace ExplainCluster.Tests.Infrastructure;

/// <summary>Tests that capture the process-wide <see cref="Console"/> streams (the CLI's output): one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class ConsoleCollection
{
    public const string Name = "console";

    /// <summary>Runs <c>explain</c> with <paramref name="args"/> in-process: its exit code, stdout and stderr.</summary>
    public static async Task<(int Exit, string Out, string Error)> RunCliAsync(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var (previousOut, previousError) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            var exit = await ExplainCluster.Client.Cli.InvokeAsync(args);
            return (exit, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
    }
}
