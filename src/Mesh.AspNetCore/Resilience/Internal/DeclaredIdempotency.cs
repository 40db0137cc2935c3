using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Mesh.AspNetCore.Discovery.Internal;

namespace Mesh.AspNetCore.Resilience.Internal;

/// <summary>
/// The idempotency that the protos of the registered clients declare (<c>option idempotency_level</c> on an rpc), read
/// once from the generated code's descriptors: the service descriptor of each client type's generated class, and, for
/// a method not found there, the file of the call's request message. Keyed by full method name.
/// </summary>
internal sealed class DeclaredIdempotency
{
    private readonly FrozenDictionary<string, bool> _fromClients;
    private readonly ConcurrentDictionary<string, bool> _fromRequests = new(StringComparer.Ordinal);

    public DeclaredIdempotency(IEnumerable<MeshClientRegistration> registrations)
    {
        var declared = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            if (FindServiceDescriptor(registration.ClientType) is { } service)
            {
                foreach (var method in service.Methods)
                {
                    declared[FullName(service.FullName, method.Name)] = IsIdempotent(method);
                }
            }
        }

        _fromClients = declared.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>
    /// Whether the proto declares <paramref name="fullMethod"/> (<c>/package.Service/Method</c>) <c>IDEMPOTENT</c> or
    /// <c>NO_SIDE_EFFECTS</c>. <paramref name="request"/> is the call's request message, searched when the method's client
    /// was not registered (or its descriptor was trimmed away).
    /// </summary>
    public bool IsDeclaredIdempotent(string fullMethod, object? request)
    {
        if (_fromClients.TryGetValue(fullMethod, out var idempotent))
        {
            return idempotent;
        }

        if (request is not IMessage message)
        {
            return false;
        }

        return _fromRequests.GetOrAdd(fullMethod, static (name, file) => FindInFile(name, file), message.Descriptor.File);
    }

    private static bool FindInFile(string fullMethod, FileDescriptor file)
    {
        var slash = fullMethod.LastIndexOf('/');
        if (slash <= 1)
        {
            return false;
        }

        var serviceName = fullMethod[1..slash];
        var method = file.Services.FirstOrDefault(s => string.Equals(s.FullName, serviceName, StringComparison.Ordinal))
            ?.FindMethodByName(fullMethod[(slash + 1)..]);
        return method is not null && IsIdempotent(method);
    }

    private static bool IsIdempotent(MethodDescriptor method) =>
        method.GetOptions()?.IdempotencyLevel is MethodOptions.Types.IdempotencyLevel.Idempotent or MethodOptions.Types.IdempotencyLevel.NoSideEffects;

    private static string FullName(string service, string method) => "/" + service + "/" + method;

    /// <summary>
    /// The service descriptor of a generated client: protoc's C# plugin nests <c>XClient</c> in the static class
    /// <c>X</c>, whose <c>Descriptor</c> property returns it. A client type may derive from the generated one.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2075",
        Justification = "When trimming removed the generated Descriptor property, the request message's file descriptor and Mesh:Resilience:Retry:IdempotentMethods still apply.")]
    private static ServiceDescriptor? FindServiceDescriptor(Type clientType)
    {
        for (var type = clientType; type is not null && type != typeof(object); type = type.BaseType)
        {
            if (type.DeclaringType?.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static) is { } property
                && property.PropertyType == typeof(ServiceDescriptor)
                && property.GetValue(null) is ServiceDescriptor descriptor)
            {
                return descriptor;
            }
        }

        return null;
    }
}
