using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Benchmarks.Infrastructure;

/// <summary>
/// A logging provider that does what a console provider does up to the output: it formats every enabled entry, then
/// drops it. It shows what log lines cost a call without measuring a terminal.
/// </summary>
internal sealed class FormattingLoggerProvider : ILoggerProvider
{
    private long _characters;

    /// <summary>How many characters the formatted entries had (so that the formatting cannot be skipped).</summary>
    public long Characters => Interlocked.Read(ref _characters);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(FormattingLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Interlocked.Add(ref provider._characters, formatter(state, exception).Length);
    }
}
