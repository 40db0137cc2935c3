#!/usr/bin/env bash
# Packs Mesh.AspNetCore, checks what the package holds, then builds and runs tests/PackageConsumer against it from a
# local folder feed (a PackageReference, not a project reference). Each run packs a unique prerelease version, so the
# consumer can never restore a stale copy from the NuGet cache; that copy is removed again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

consumer=tests/PackageConsumer
feed="$consumer/feed"
suffix="ci.$(date +%Y%m%d%H%M%S).$$"
version=""
cleanup() {
  rm -rf "$feed" "$consumer/bin" "$consumer/obj"
  if [[ -n "$version" ]]; then
    rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/mesh.aspnetcore/$version"
  fi
}
trap cleanup EXIT

rm -rf "$feed"
echo "package: packing"
dotnet pack src/Mesh.AspNetCore -c Release --version-suffix "$suffix" -o "$feed" -nologo -clp:NoSummary
nupkg=$(ls "$feed"/Mesh.AspNetCore.*.nupkg | grep -v '\.snupkg$')
version=$(basename "$nupkg" .nupkg)
version=${version#Mesh.AspNetCore.}

fail() { echo "package: FAIL: $*" >&2; exit 1; }
[[ -f "$feed/Mesh.AspNetCore.$version.snupkg" ]] || fail "no symbol package (.snupkg)"
files=$(unzip -Z1 "$nupkg")
for f in README.md lib/net10.0/Mesh.AspNetCore.dll lib/net10.0/Mesh.AspNetCore.xml; do
  grep -qx "$f" <<<"$files" || fail "$f is missing from the package"
done
nuspec=$(unzip -p "$nupkg" Mesh.AspNetCore.nuspec)
for tag in '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<description>' '<tags>' '<repository type="git"'; do
  grep -qF "$tag" <<<"$nuspec" || fail "the nuspec has no $tag"
done
echo "package: Mesh.AspNetCore $version holds the README, XML docs, license, symbols"

echo "package: building and running the consumer against the package"
dotnet run --project "$consumer" -c Release -p:MeshAspNetCoreVersion="$version" -nologo
# The consumer must have restored the package, not the project.
grep -q "\"Mesh.AspNetCore/$version\"" "$consumer/obj/project.assets.json" || fail "the consumer did not restore Mesh.AspNetCore $version"
echo "package: OK"
