using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Infrastructure;

/// <summary>
/// Keeps log entries in memory so tests can assert on what a user would read in their logs: from Information up, or
/// from <paramref name="minimumLevel"/> for a test of what a user sees with Debug logging on.
/// </summary>
public sealed class TestLoggerProvider(LogLevel minimumLevel = LogLevel.Information) : ILoggerProvider
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public LogLevel MinimumLevel => minimumLevel;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message)
    {
        /// <summary>The exception logged with the entry (a sink writes its stack trace), or null.</summary>
        public Exception? Exception { get; init; }
    }

    private sealed class Logger(TestLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider.MinimumLevel && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception)) { Exception = exception });
            }
        }
    }
}
