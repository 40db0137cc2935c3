using System.Net;
using Grpc.Core;
using Grpc.Net.Client.Balancer;

namespace Mesh.AspNetCore.Discovery.Internal;

/// <summary>
/// Records each attempt's outcome against the endpoint the balancer picked for it, for the endpoint's counts and its
/// outlier ejection. It sits in the channel's HTTP handler chain below gRPC's balancer, where the request carries the
/// picked subchannel. A failure is what the endpoint answered before any response message: a trailers-only gRPC status
/// (how a server reports a call that failed before replying), a non-200 HTTP status, or a connection that broke. A call
/// cancelled by its caller or its deadline says nothing about the endpoint and is not counted.
/// </summary>
internal sealed class EndpointOutcomeHandler(EndpointRegistry registry) : DelegatingHandler
{
    // The request option under which gRPC's balancer handler passes the picked subchannel down the handler chain.
    private static readonly HttpRequestOptionsKey<Subchannel> SubchannelOption = new("Subchannel");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(SubchannelOption, out var subchannel)
            || !subchannel.Attributes.TryGetValue(EndpointState.Key, out var endpoint))
        {
            return base.SendAsync(request, cancellationToken);
        }

        return SendAsync(request, endpoint, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, EndpointState endpoint, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception)
        {
            endpoint.Failed(StatusCode.Unavailable);
            throw;
        }

        var status = StatusOf(response);
        if (status != StatusCode.OK && registry.IsFailure(status))
        {
            endpoint.Failed(status);
        }
        else
        {
            endpoint.Succeeded();
        }

        return response;
    }

    /// <summary>The status the endpoint answered with in the response headers; OK when it answered normally (its status follows in the trailers).</summary>
    private static StatusCode StatusOf(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            // gRPC's mapping of HTTP statuses (grpc/doc/http-grpc-status-mapping.md).
            return response.StatusCode switch
            {
                HttpStatusCode.BadRequest => StatusCode.Internal,
                HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
                HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
                HttpStatusCode.NotFound => StatusCode.Unimplemented,
                HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => StatusCode.Unavailable,
                _ => StatusCode.Unknown,
            };
        }

        if (response.Headers.NonValidated.TryGetValues("grpc-status", out var values)
            && int.TryParse(values.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code))
        {
            return (StatusCode)code;
        }

        return StatusCode.OK;
    }
}
