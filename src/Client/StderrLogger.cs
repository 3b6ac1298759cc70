using Microsoft.Extensions.Logging;

namespace ExplainCluster.Client;

/// <summary>
/// The CLI's log output: stderr only (stdout carries results and progress), one line per entry. Quiet
/// mode shows warnings and above with an exception's first line only (no type, no stack); verbose shows everything with them.
/// </summary>
public sealed class StderrLoggerProvider(bool verbose) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger(categoryName, verbose);

    public void Dispose() { }

    private sealed class StderrLogger(string category, bool verbose) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) =>
            logLevel != LogLevel.None && logLevel >= (verbose ? LogLevel.Debug : LogLevel.Warning)
            // Orleans reports its own start-up and shutdown chatter at Warning; quiet mode keeps only its errors.
            && (verbose || logLevel >= LogLevel.Error || !category.StartsWith("Orleans", StringComparison.Ordinal));

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var message = formatter(state, exception).ReplaceLineEndings(" ");
            var line = verbose && exception is not null
                ? $"{Level(logLevel)}: {category}: {message}{Environment.NewLine}{exception}"
                : $"{Level(logLevel)}: {message}{(exception is null ? "" : $" ({exception.Message.Split('\n')[0]})")}";
            Console.Error.WriteLine(Engine.Storage.Redaction.Text(line));
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trace",
            LogLevel.Debug => "debug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warning",
            LogLevel.Error => "error",
            _ => "critical",
        };
    }
}

public static class StderrLoggingExtensions
{
    public static ILoggingBuilder AddStderr(this ILoggingBuilder logging, bool verbose)
    {
        logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning);
        logging.AddProvider(new StderrLoggerProvider(verbose));
        return logging;
    }
}
