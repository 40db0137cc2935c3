namespace Mesh.AspNetCore.Tests.Resilience;

/// <summary>appsettings.json documents of the calling service ("order-service").</summary>
public static class MeshConfig
{
    /// <summary>Discovery lists inventory-service on <paramref name="inventoryPort"/> (and payment-service when given).</summary>
    public static string For(int inventoryPort, string resilience = "{}", int? paymentPort = null)
    {
        var payment = paymentPort is { } p ? $$""", { "Id": "payment-service", "Host": "127.0.0.1", "Port": {{p}} }""" : string.Empty;
        return $$"""
            {
              "Mesh": {
                "ServiceId": "order-service",
                "Resilience": {{resilience}},
                "Discovery": { "Services": [ { "Id": "inventory-service", "Host": "127.0.0.1", "Port": {{inventoryPort}} }{{payment}} ] }
              }
            }
            """;
    }
}
