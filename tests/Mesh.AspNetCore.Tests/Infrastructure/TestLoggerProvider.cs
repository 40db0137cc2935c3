using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Infrastructure;

/// <summary>Keeps log entries in memory so tests can assert on what a user would read in their logs.</summary>
public sealed class TestLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

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

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception)) { Exception = exception });
            }
        }
    }
}
