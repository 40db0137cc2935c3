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
    [Fact]
    public void RateLimit_Configuration_BindsThousandPerMinute()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "api-gateway", "port": 50051,
              "resilience": { "rateLimit": { "maxRequests": 1000, "windowMs": 60000 } } } }
            """);
        Assert.Equal("api-gateway", options.ServiceId);
        Assert.Equal(50051, options.Port);
        Assert.Equal(1000, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(60000, options.Resilience.RateLimit.WindowMs);
        Assert.True(options.Resilience.RateLimit.IsEnabled);
    }

    [Fact]
    public void RateLimit_ApiGatewayProtection_Binds5000PerMinute()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "api-gateway", "port": 50051,
              "resilience": { "rateLimit": { "maxRequests": 5000, "windowMs": 60000 } } } }
            """);
        Assert.Equal(5000, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(60000, options.Resilience.RateLimit.WindowMs);
    }

    [Fact]
    public void RateLimit_PerServiceRateLimiting_Binds100PerMinute()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "payment-service", "port": 50052,
              "resilience": { "rateLimit": { "maxRequests": 100, "windowMs": 60000 } } } }
            """);
        Assert.Equal("payment-service", options.ServiceId);
        Assert.Equal(50052, options.Port);
        Assert.Equal(100, options.Resilience.RateLimit.MaxRequests);
    }

    [Fact]
    public void RateLimit_BurstProtection_Binds1000PerTenSeconds()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "notification-service", "port": 50053,
              "resilience": { "rateLimit": { "maxRequests": 1000, "windowMs": 10000 } } } }
            """);
        Assert.Equal(1000, options.Resilience.RateLimit.MaxRequests);
        Assert.Equal(10000, options.Resilience.RateLimit.WindowMs);
    }

    [Fact]
    public void RateLimit_ServerSideExample_BindsThousandPerMinute()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "my-service", "port": 50051,
              "resilience": { "rateLimit": { "maxRequests": 1000, "windowMs": 60000 } } } }
            """);
        Assert.Equal("my-service", options.ServiceId);
        Assert.Equal(1000, options.Resilience.RateLimit.MaxRequests);
    }

    [Fact]
    public void CircuitBreaker_Configuration_BindsFiveTwoMinute()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "order-service", "port": 50051,
              "resilience": { "circuitBreaker": { "failureThreshold": 5, "successThreshold": 2, "timeout": 60000 } } } }
            """);
        var breaker = options.Resilience.CircuitBreaker;
        Assert.Equal((5, 2, 60000), (breaker.FailureThreshold, breaker.SuccessThreshold, breaker.Timeout));
        Assert.True(breaker.Enabled);
    }

    [Fact]
    public void CircuitBreaker_DatabaseConnectionProtection_BindsQuickDetection()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "user-service", "port": 50051,
              "resilience": { "circuitBreaker": { "failureThreshold": 3, "successThreshold": 2, "timeout": 30000 } } } }
            """);
        var breaker = options.Resilience.CircuitBreaker;
        Assert.Equal((3, 2, 30000), (breaker.FailureThreshold, breaker.SuccessThreshold, breaker.Timeout));
    }

    [Fact]
    public void CircuitBreaker_ExternalApiIntegration_BindsLongerRecovery()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "payment-gateway", "port": 50052,
              "resilience": { "circuitBreaker": { "failureThreshold": 5, "successThreshold": 3, "timeout": 120000 } } } }
            """);
        var breaker = options.Resilience.CircuitBreaker;
        Assert.Equal((5, 3, 120000), (breaker.FailureThreshold, breaker.SuccessThreshold, breaker.Timeout));
    }

    [Fact]
    public void CircuitBreaker_MicroserviceDependencies_BindsDiscoveryAndBreaker()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "order-service", "port": 50053,
              "discovery": { "services": [
                { "id": "inventory-service", "host": "localhost", "port": 50054 },
                { "id": "payment-service", "host": "localhost", "port": 50055 } ] },
              "resilience": { "circuitBreaker": { "failureThreshold": 5, "successThreshold": 2, "timeout": 60000 } } } }
            """);
        Assert.Collection(
            options.Discovery.Services,
            s => Assert.Equal(("inventory-service", "localhost", 50054), (s.Id, s.Host, s.Port)),
            s => Assert.Equal(("payment-service", "localhost", 50055), (s.Id, s.Host, s.Port)));
        Assert.Equal(5, options.Resilience.CircuitBreaker.FailureThreshold);
    }

    [Fact]
    public void Retry_Configuration_BindsThreeRetriesFromOneSecond()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "notification-service", "port": 50051,
              "resilience": { "retry": { "maxAttempts": 3, "initialDelay": 1000 } } } }
            """);
        Assert.Equal((3, 1000), (options.Resilience.Retry.MaxAttempts, options.Resilience.Retry.InitialDelay));
        Assert.True(options.Resilience.Retry.Enabled);
    }

    [Theory]
    [InlineData("email-service", 5, 500)]
    [InlineData("transaction-service", 3, 100)]
    [InlineData("analytics-service", 4, 2000)]
    public void Retry_UseCases_BindAttemptsAndInitialDelay(string serviceId, int maxAttempts, int initialDelay)
    {
        var options = Bind($$"""
            { "mesh": { "serviceId": "{{serviceId}}", "port": 50051,
              "resilience": { "retry": { "maxAttempts": {{maxAttempts}}, "initialDelay": {{initialDelay}} } } } }
            """);
        Assert.Equal((maxAttempts, initialDelay), (options.Resilience.Retry.MaxAttempts, options.Resilience.Retry.InitialDelay));
    }

    [Fact]
    public void Combined_ProductionReadyConfiguration_BindsAllThreePatterns()
    {
        var options = Bind("""
            { "mesh": { "serviceId": "production-service", "port": 50051,
              "resilience": {
                "rateLimit": { "maxRequests": 1000, "windowMs": 60000 },
                "circuitBreaker": { "failureThreshold": 5, "successThreshold": 2, "timeout": 60000 },
                "retry": { "maxAttempts": 3, "initialDelay": 1000 } } } }
            """);
        var resilience = options.Resilience;
        Assert.Equal((1000, 60000), (resilience.RateLimit.MaxRequests, resilience.RateLimit.WindowMs));
        Assert.Equal((5, 2, 60000), (resilience.CircuitBreaker.FailureThreshold, resilience.CircuitBreaker.SuccessThreshold, resilience.CircuitBreaker.Timeout));
        Assert.Equal((3, 1000), (resilience.Retry.MaxAttempts, resilience.Retry.InitialDelay));
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
