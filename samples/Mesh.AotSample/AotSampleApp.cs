using System.Globalization;
using Mesh.AspNetCore;
using Mesh.Samples;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AotSample;

/// <summary>
/// A mesh service that publishes as a native AOT executable. It serves a flaky inventory service (the first attempt of
/// every order fails with UNAVAILABLE) and calls it through a mesh client, so one request to <c>POST /reserve/{sku}</c>
/// shows a retry succeed; <c>/mesh/stats</c> counts it. Its configuration sets <c>OnlyIdempotent</c>: the failed attempt
/// reached the handler, so the retry is made only because inventory.proto declares <c>Reserve</c> <c>IDEMPOTENT</c>.
/// </summary>
public static class AotSampleApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<FlakyInventoryApi>();
        builder.Services.AddSecureMesh()
            .AddClient<Inventory.InventoryClient>("inventory-service");

        var app = builder.Build();
        app.MapGrpcService<FlakyInventoryApi>();
        app.MapPost("/reserve/{sku}", async (string sku, IMeshClient<Inventory.InventoryClient> inventory, CancellationToken cancellationToken) =>
        {
            var request = new ReserveRequest { Sku = sku, Quantity = 1, OrderId = Guid.NewGuid().ToString("N") };
            var reply = await inventory.Client.ReserveAsync(request, cancellationToken: cancellationToken);
            return Results.Text(string.Create(CultureInfo.InvariantCulture, $"reserved {sku}: ok={reply.Ok} remaining={reply.Remaining}"));
        });
        app.MapMeshStats();
        return app;
    }
}
