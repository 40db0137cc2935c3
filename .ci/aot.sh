#!/usr/bin/env bash
# Publishes samples/Mesh.AotSample as a native AOT executable (and, for comparison, on the JIT), starts each on a free
# loopback port, makes a real call through its mesh client (the downstream's handler fails the first attempt; the retry
# succeeds: the sample sets OnlyIdempotent, so it is made only because the native build read the rpc's
# idempotency_level = IDEMPOTENT), checks /mesh/stats, and prints start-up time and working set. Exits non-zero on any failure, including a
# trim or AOT warning during publish.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null || need+=(clang)
[[ -e /usr/include/zlib.h ]] || need+=(zlib1g-dev)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "aot: installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

out="${MESH_AOT_OUT:-$(mktemp -d)}"
mkdir -p "$out"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  [[ -n "${MESH_AOT_OUT:-}" ]] || rm -rf "$out"
}
trap cleanup EXIT

project=samples/Mesh.AotSample/Mesh.AotSample.csproj
runs="${MESH_AOT_RUNS:-3}"

echo "aot: publishing native AOT (linux-x64)"
dotnet publish "$project" -c Release -r linux-x64 -o "$out/aot" -nologo -clp:NoSummary >"$out/aot.log" 2>&1 || { cat "$out/aot.log"; exit 1; }
if grep -E ": warning [A-Z]+[0-9]+" "$out/aot.log"; then
  echo "aot: FAIL: the native AOT publish reported the warnings above" >&2
  exit 1
fi
echo "aot: publishing on the JIT (framework-dependent) for comparison"
dotnet publish "$project" -c Release -p:PublishAot=false -o "$out/jit" -nologo -clp:NoSummary >"$out/jit.log" 2>&1 || { cat "$out/jit.log"; exit 1; }

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run <label> <run number> <publish folder> <command...>: start, wait for /mesh/stats, call, check, measure, stop.
run() {
  local label="$1" n="$2" dir="$3"
  shift 3
  local port started ready url reply stats rss
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  started="$(now_ms)"
  "$@" --contentRoot "$dir" --Mesh:Port="$port" --Mesh:Discovery:Services:0:Port="$port" >"$out/$label-$n.log" 2>&1 &
  pid=$!
  until curl -sf --http2-prior-knowledge -o /dev/null "$url/mesh/stats"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$out/$label-$n.log"
      echo "aot: FAIL: $label exited before answering" >&2
      exit 1
    fi
    if (($(now_ms) - started > 60000)); then
      echo "aot: FAIL: $label did not answer within 60 s" >&2
      exit 1
    fi
    sleep 0.01
  done
  ready=$(($(now_ms) - started))

  reply="$(curl -sf --http2-prior-knowledge -X POST "$url/reserve/sku-1")"
  stats="$(curl -sf --http2-prior-knowledge "$url/mesh/stats")"
  rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""

  if [[ "$reply" != "reserved sku-1: ok=True"* ]]; then
    echo "aot: FAIL: $label replied '$reply'" >&2
    exit 1
  fi
  if ! jq -e '.services["inventory-service"] as $s
      | $s.messagesSent == 1 and $s.messagesFailed == 0 and $s.retries == 1 and $s.circuitBreakerState == "closed"' \
      <<<"$stats" >/dev/null; then
    echo "aot: FAIL: $label stats do not show one call that succeeded after one retry: $stats" >&2
    exit 1
  fi
  echo "aot: $label run $n: first /mesh/stats answer after ${ready} ms, working set ${rss} MiB after one call with a retry"
  echo "$ready $rss" >>"$out/$label.figures"
}

# Configuration binding and validation run from generated code in the native build: a misspelt key still stops it,
# naming the full key.
if misspelt=$("$out/aot/Mesh.AotSample" --contentRoot "$out/aot" --Mesh:Port="$(free_port)" \
    --Mesh:Resilience:Retry:MaxAttempt=2 2>&1); then
  echo "aot: FAIL: native started with a misspelt key" >&2
  exit 1
fi
grep -q "Mesh:Resilience:Retry:MaxAttempt is not a known setting" <<<"$misspelt" \
  || { echo "$misspelt"; echo "aot: FAIL: native did not name the misspelt key" >&2; exit 1; }
echo "aot: native stops at startup on a misspelt key, naming Mesh:Resilience:Retry:MaxAttempt"

for ((i = 1; i <= runs; i++)); do
  run native "$i" "$out/aot" "$out/aot/Mesh.AotSample"
  run jit "$i" "$out/jit" dotnet "$out/jit/Mesh.AotSample.dll"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
size=$(du -m "$out/aot/Mesh.AotSample" | cut -f1)
for label in native jit; do
  echo "aot: $label median of $runs: start-up $(cut -d' ' -f1 "$out/$label.figures" | median) ms, working set $(cut -d' ' -f2 "$out/$label.figures" | median) MiB"
done
echo "aot: native executable ${size} MiB"
echo "aot: OK"
