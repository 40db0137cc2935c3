using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Configuration.Internal;

/// <summary>
/// The options factory of <see cref="SecureMeshOptions"/>: after a reload has passed validation, it hands that very
/// instance to whoever builds the options next (the monitor, when <see cref="ValidatedReloadTokenSource"/> tells it of
/// the change), so that the options in force are always ones that were validated. Building them again from the
/// configuration could read a later, invalid change and leave the monitor throwing on every read.
/// </summary>
internal sealed class ValidatedOptionsFactory(
    IEnumerable<IConfigureOptions<SecureMeshOptions>> setups,
    IEnumerable<IPostConfigureOptions<SecureMeshOptions>> postConfigures,
    IEnumerable<IValidateOptions<SecureMeshOptions>> validations) : IOptionsFactory<SecureMeshOptions>
{
    private readonly OptionsFactory<SecureMeshOptions> _inner = new(setups, postConfigures, validations);
    private SecureMeshOptions? _lastValidated;

    public SecureMeshOptions Create(string name) =>
        name == Options.DefaultName && Volatile.Read(ref _lastValidated) is { } validated ? validated : _inner.Create(name);

    /// <summary>
    /// Builds and validates the options from the configuration as it is now; when they are valid, they are what
    /// <see cref="Create"/> returns from then on. Throws as the options factory does when they are not.
    /// </summary>
    public SecureMeshOptions BuildValidated()
    {
        var options = _inner.Create(Options.DefaultName);
        Volatile.Write(ref _lastValidated, options);
        return options;
    }
}
