using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// The logger factory of a mesh client's channel: the application's, except that grpc-dotnet's entries about single
/// calls (category <c>Grpc.Net.Client.Internal.GrpcCall</c>: "Call failed with gRPC error status", "gRPC call deadline
/// exceeded", "Error starting gRPC call" with its exception) are written at Debug. On a mesh channel each of those calls
/// is one attempt, and the mesh logs each retried attempt and each failed call itself, once.
/// </summary>
internal sealed class ChannelLoggerFactory(ILoggerFactory application) : ILoggerFactory
{
    public const string CallCategory = "Grpc.Net.Client.Internal.GrpcCall";

    // grpc-dotnet asks for the call logger once per call: one wrapper per channel, made on first use.
    private ILogger? _callLogger;

    public ILogger CreateLogger(string categoryName) =>
        string.Equals(categoryName, CallCategory, StringComparison.Ordinal)
            ? _callLogger ??= new DebugLogger(application.CreateLogger(categoryName))
            : application.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) => application.AddProvider(provider);

    public void Dispose()
    {
        // The application's factory belongs to the application.
    }

    /// <summary>Writes every entry above Debug at Debug, exception and scopes unchanged.</summary>
    private sealed class DebugLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(AtMostDebug(logLevel));

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(AtMostDebug(logLevel), eventId, state, exception, formatter);

        private static LogLevel AtMostDebug(LogLevel level) => level is > LogLevel.Debug and < LogLevel.None ? LogLevel.Debug : level;
    }
}
