using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>
/// Every configuration object of the original documentation, pasted as JSON with its camelCase keys under "Mesh",
/// binds to the values the documentation gives.
/// </summary>
public sealed class SpecExamplesBindingTests
{
    // Each example runs twice: with the documentation's values, and, in the same document, with values that differ
    // from the defaults (no default, for MaxRequests). Many of the documentation's values are the defaults, so only the
    // second run shows that their keys bind at all.

    [Theory]
    [InlineData(1000, 60000)]
    [InlineData(1200, 45000)]
    public void RateLimit_Configuration_BindsMaxRequestsAndWindow(int maxRequests, int windowMs)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "api-gateway", "port": 50051,
              "resilience": { "rateLimit": { "maxRequests": {{maxRequests}}, "windowMs": {{windowMs}} } } } }
            """);
        Assert.Equal("api-gateway", options.ServiceId);
        Assert.Equal(50051, options.Port);
        Assert.Equal(maxRequests, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(windowMs, options.Resilience.RateLimit.WindowMs);
        Assert.True(options.Resilience.RateLimit.IsEnabled);
    }

    [Theory]
    [InlineData(5000, 60000)]
    [InlineData(4000, 30000)]
    public void RateLimit_ApiGatewayProtection_BindsMaxRequestsAndWindow(int maxRequests, int windowMs)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "api-gateway", "port": 50051,
              "resilience": { "rateLimit": { "maxRequests": {{maxRequests}}, "windowMs": {{windowMs}} } } } }
            """);
        Assert.Equal(maxRequests, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(windowMs, options.Resilience.RateLimit.WindowMs);
    }

    [Theory]
    [InlineData(100, 60000)]
    [InlineData(150, 20000)]
    public void RateLimit_PerServiceRateLimiting_BindsMaxRequestsAndWindow(int maxRequests, int windowMs)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "payment-service", "port": 50052,
              "resilience": { "rateLimit": { "maxRequests": {{maxRequests}}, "windowMs": {{windowMs}} } } } }
            """);
        Assert.Equal("payment-service", options.ServiceId);
        Assert.Equal(50052, options.Port);
        Assert.Equal(maxRequests, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(windowMs, options.Resilience.RateLimit.WindowMs);
    }

    [Theory]
    [InlineData(1000, 10000)]
    [InlineData(800, 5000)]
    public void RateLimit_BurstProtection_BindsMaxRequestsAndWindow(int maxRequests, int windowMs)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "notification-service", "port": 50053,
              "resilience": { "rateLimit": { "maxRequests": {{maxRequests}}, "windowMs": {{windowMs}} } } } }
            """);
        Assert.Equal(maxRequests, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(windowMs, options.Resilience.RateLimit.WindowMs);
    }

    [Theory]
    [InlineData(1000, 60000)]
    [InlineData(700, 15000)]
    public void RateLimit_ServerSideExample_BindsMaxRequestsAndWindow(int maxRequests, int windowMs)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "my-service", "port": 50051,
              "resilience": { "rateLimit": { "maxRequests": {{maxRequests}}, "windowMs": {{windowMs}} } } } }
            """);
        Assert.Equal("my-service", options.ServiceId);
        Assert.Equal(maxRequests, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(windowMs, options.Resilience.RateLimit.WindowMs);
    }

    [Theory]
    [InlineData(5, 2, 60000)]
    [InlineData(7, 4, 45000)]
    public void CircuitBreaker_Configuration_BindsThresholdsAndTimeout(int failureThreshold, int successThreshold, int timeout)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "order-service", "port": 50051,
              "resilience": { "circuitBreaker": { "failureThreshold": {{failureThreshold}}, "successThreshold": {{successThreshold}}, "timeout": {{timeout}} } } } }
            """);
        var breaker = options.Resilience.CircuitBreaker;
        Assert.Equal((failureThreshold, successThreshold, timeout), (breaker.FailureThreshold, breaker.SuccessThreshold, breaker.Timeout));
        Assert.True(breaker.Enabled);
    }

    [Theory]
    [InlineData(3, 2, 30000)]
    [InlineData(4, 3, 20000)]
    public void CircuitBreaker_DatabaseConnectionProtection_BindsThresholdsAndTimeout(int failureThreshold, int successThreshold, int timeout)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "user-service", "port": 50051,
              "resilience": { "circuitBreaker": { "failureThreshold": {{failureThreshold}}, "successThreshold": {{successThreshold}}, "timeout": {{timeout}} } } } }
            """);
        var breaker = options.Resilience.CircuitBreaker;
        Assert.Equal((failureThreshold, successThreshold, timeout), (breaker.FailureThreshold, breaker.SuccessThreshold, breaker.Timeout));
    }

    [Theory]
    [InlineData(5, 3, 120000)]
    [InlineData(6, 4, 150000)]
    public void CircuitBreaker_ExternalApiIntegration_BindsThresholdsAndTimeout(int failureThreshold, int successThreshold, int timeout)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "payment-gateway", "port": 50052,
              "resilience": { "circuitBreaker": { "failureThreshold": {{failureThreshold}}, "successThreshold": {{successThreshold}}, "timeout": {{timeout}} } } } }
            """);
        var breaker = options.Resilience.CircuitBreaker;
        Assert.Equal((failureThreshold, successThreshold, timeout), (breaker.FailureThreshold, breaker.SuccessThreshold, breaker.Timeout));
    }

    [Theory]
    [InlineData(5, 2, 60000)]
    [InlineData(8, 3, 30000)]
    public void CircuitBreaker_MicroserviceDependencies_BindsDiscoveryAndBreaker(int failureThreshold, int successThreshold, int timeout)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "order-service", "port": 50053,
              "discovery": { "services": [
                { "id": "inventory-service", "host": "localhost", "port": 50054 },
                { "id": "payment-service", "host": "localhost", "port": 50055 } ] },
              "resilience": { "circuitBreaker": { "failureThreshold": {{failureThreshold}}, "successThreshold": {{successThreshold}}, "timeout": {{timeout}} } } } }
            """);
        Assert.Collection(
            options.Discovery.Services,
            s => Assert.Equal(("inventory-service", "localhost", 50054), (s.Id, s.Host, s.Port)),
            s => Assert.Equal(("payment-service", "localhost", 50055), (s.Id, s.Host, s.Port)));
        var breaker = options.Resilience.CircuitBreaker;
        Assert.Equal((failureThreshold, successThreshold, timeout), (breaker.FailureThreshold, breaker.SuccessThreshold, breaker.Timeout));
    }

    [Theory]
    [InlineData(3, 1000)]
    [InlineData(6, 250)]
    public void Retry_Configuration_BindsAttemptsAndInitialDelay(int maxAttempts, int initialDelay)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "notification-service", "port": 50051,
              "resilience": { "retry": { "maxAttempts": {{maxAttempts}}, "initialDelay": {{initialDelay}} } } } }
            """);
        Assert.Equal((maxAttempts, initialDelay), (options.Resilience.Retry.MaxAttempts, options.Resilience.Retry.InitialDelay));
        Assert.True(options.Resilience.Retry.Enabled);
    }

    [Theory]
    [InlineData("email-service", 5, 500)]
    [InlineData("transaction-service", 3, 100)]
    [InlineData("transaction-service", 2, 100)]
    [InlineData("analytics-service", 4, 2000)]
    public void Retry_UseCases_BindAttemptsAndInitialDelay(string serviceId, int maxAttempts, int initialDelay)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "{{serviceId}}", "port": 50051,
              "resilience": { "retry": { "maxAttempts": {{maxAttempts}}, "initialDelay": {{initialDelay}} } } } }
            """);
        Assert.Equal((maxAttempts, initialDelay), (options.Resilience.Retry.MaxAttempts, options.Resilience.Retry.InitialDelay));
    }

    [Theory]
    [InlineData(1000, 60000, 5, 2, 60000, 3, 1000)]
    [InlineData(900, 30000, 6, 3, 40000, 2, 700)]
    public void Combined_ProductionReadyConfiguration_BindsAllThreePatterns(
        int maxRequests, int windowMs, int failureThreshold, int successThreshold, int timeout, int maxAttempts, int initialDelay)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "production-service", "port": 50051,
              "resilience": {
                "rateLimit": { "maxRequests": {{maxRequests}}, "windowMs": {{windowMs}} },
                "circuitBreaker": { "failureThreshold": {{failureThreshold}}, "successThreshold": {{successThreshold}}, "timeout": {{timeout}} },
                "retry": { "maxAttempts": {{maxAttempts}}, "initialDelay": {{initialDelay}} } } } }
            """);
        var resilience = options.Resilience;
        Assert.Equal((maxRequests, windowMs), (resilience.RateLimit.MaxRequests, resilience.RateLimit.WindowMs));
        Assert.Equal((failureThreshold, successThreshold, timeout), (resilience.CircuitBreaker.FailureThreshold, resilience.CircuitBreaker.SuccessThreshold, resilience.CircuitBreaker.Timeout));
        Assert.Equal((maxAttempts, initialDelay), (resilience.Retry.MaxAttempts, resilience.Retry.InitialDelay));
    }

    [Fact]
    public void Defaults_WithOnlyServiceId_AreTheSeedDefaults()
    {
        var options = Bind("""{ "Mesh": { "ServiceId": "svc" } }""");
        var resilience = options.Resilience;
        Assert.False(resilience.RateLimit.IsEnabled);
        Assert.Null(resilience.RateLimit.MaxRequests);
        Assert.Equal((5, 2, 60000), (resilience.CircuitBreaker.FailureThreshold, resilience.CircuitBreaker.SuccessThreshold, resilience.CircuitBreaker.Timeout));
        Assert.Equal((3, 1000, 30000), (resilience.Retry.MaxAttempts, resilience.Retry.InitialDelay, resilience.Retry.MaxDelay));
        Assert.True(resilience.CircuitBreaker.Enabled && resilience.Retry.Enabled);
        Assert.False(resilience.Retry.UseJitter);
        Assert.Null(options.Port);
    }

    [Fact]
    public void Enabled_False_TurnsConfiguredRateLimitOff()
    {
        var options = Bind("""{ "Mesh": { "ServiceId": "svc", "Resilience": { "RateLimit": { "MaxRequests": 10, "Enabled": false } } } }""");
        Assert.False(options.Resilience.RateLimit.IsEnabled);
    }

    [Fact]
    public void StatusCodeLists_BindReplacingTheDefaults()
    {
        var options = Bind("""
            { "Mesh": { "ServiceId": "svc", "Resilience": {
              "Retry": { "RetryableStatusCodes": [ "Unavailable" ] },
              "CircuitBreaker": { "FailureStatusCodes": [ "Internal", "DeadlineExceeded" ] } } } }
            """);
        Assert.Equal([Grpc.Core.StatusCode.Unavailable], options.Resilience.Retry.RetryableStatusCodes);
        Assert.Equal([Grpc.Core.StatusCode.Internal, Grpc.Core.StatusCode.DeadlineExceeded], options.Resilience.CircuitBreaker.FailureStatusCodes);
    }

    internal static SecureMeshOptions Bind(string json)
    {
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddSecureMesh();
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<SecureMeshOptions>>().Value;
    }
}
