#!/usr/bin/env bash
# Sourced by .ci/run: starts a throw-away redis-server on a free loopback port, with no persistence, and exports
# MESH_TEST_REDIS so the shared rate-limit store tests also run against it (they always run against an embedded
# Garnet). Installs Debian's redis-server when it is missing. The server is stopped when the sourcing shell exits.
# Without redis-server (and no way to install it), the tests run against Garnet only.

mesh_redis_start() {
  if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      local sudo=""
      if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
      $sudo apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null 2>&1 || true
    fi
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server is not available: shared-store tests run against the embedded Garnet only." >&2
    return 0
  fi

  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000)))
  MESH_REDIS_DIR="$(mktemp -d)"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$MESH_REDIS_DIR" \
    --daemonize yes --pidfile "$MESH_REDIS_DIR/redis.pid" --logfile "$MESH_REDIS_DIR/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
      export MESH_TEST_REDIS="127.0.0.1:$port"
      echo "redis-server on 127.0.0.1:$port (MESH_TEST_REDIS)"
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not start: shared-store tests run against the embedded Garnet only." >&2
  mesh_redis_stop
}

mesh_redis_stop() {
  if [[ -n "${MESH_REDIS_DIR:-}" && -f "$MESH_REDIS_DIR/redis.pid" ]]; then
    local pid
    pid="$(cat "$MESH_REDIS_DIR/redis.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  if [[ -n "${MESH_REDIS_DIR:-}" ]]; then
    rm -rf "$MESH_REDIS_DIR"
  fi
  unset MESH_REDIS_DIR
}

mesh_redis_start
