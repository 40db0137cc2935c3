#!/usr/bin/env bash
# Records the public surface of src/Mesh.AspNetCore after a change: every new public member is appended to
# PublicAPI.Unshipped.txt (the code fix of RS0016), then a build lists what is still undeclared. A removed or changed
# member (RS0017) has no code fix: delete its line from PublicAPI.Unshipped.txt, or, if it is in
# PublicAPI.Shipped.txt, add the same line prefixed with *REMOVED* to PublicAPI.Unshipped.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

project=src/Mesh.AspNetCore/Mesh.AspNetCore.csproj
dotnet format analyzers "$project" --diagnostics RS0016
if ! dotnet build "$project" -nologo -v quiet -clp:NoSummary; then
  echo "The public API files still disagree with the code: see the RS0017 errors above." >&2
  exit 1
fi
echo "PublicAPI.Unshipped.txt is up to date."
