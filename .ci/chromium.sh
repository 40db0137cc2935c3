#!/usr/bin/env bash
# Sourced by .ci/run: installs the Debian package chromium when it is missing (the dashboard's browser tests drive it
# headless through Playwright), and makes those tests fail instead of skipping when no browser is there.
if [[ ! -x /usr/bin/chromium && -z "${MESH_CHROMIUM:-}" ]]; then
  echo "chromium not found: installing it with apt-get" >&2
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi || echo "could not install chromium: the browser tests will fail (MESH_REQUIRE_BROWSER=1)" >&2
fi
export MESH_REQUIRE_BROWSER=1
