#!/usr/bin/env bash
# Builds the release server_bench and measures the server on loopback (see the header of
# server_bench.cc): RUNS runs of server_bench, each printing its own in-process comparison,
# then the median of every row over the runs. If wrk is installed, also RUNS runs of wrk
# against POST /v1/check on a server started by `server_bench serve --populate` (the same
# set-up as server_bench's: a Lua script sends each token's body with the backend key).
#
# Environment (defaults): RUNS (3), BUILD (build/bench-server), OUT ($BUILD/server_bench_results),
# BENCH_ARGS (extra server_bench flags, e.g. "--seconds 10"), WRK_CONNECTIONS (64),
# WRK_THREADS (1: one client thread, like server_bench's), WRK_SECONDS (10),
# TOKENS (10000), ORGS (100).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
BUILD=${BUILD:-$ROOT/build/bench-server}
OUT=${OUT:-$BUILD/server_bench_results}
BENCH_ARGS=${BENCH_ARGS:-}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
WRK_SECONDS=${WRK_SECONDS:-10}
TOKENS=${TOKENS:-10000}
ORGS=${ORGS:-100}

echo "== build (release, tests off)"
nice -n 5 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DAUTHLEDGER_BUILD_TESTS=OFF >/dev/null
nice -n 5 cmake --build "$BUILD" -j2 --target server_bench
BENCH=$BUILD/tools/bench/server_bench

mkdir -p "$OUT"
RAW=$OUT/raw.log
: >"$RAW"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores"
  echo "kernel: $(uname -r)"
  echo "nofile limit: soft $(ulimit -Sn), hard $(ulimit -Hn)"
} | tee "$OUT/machine.txt"

for run in $(seq 1 "$RUNS"); do
  echo "== server_bench run $run/$RUNS ($(uptime | sed 's/.*load average/load average/'))" |
    tee -a "$RAW"
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
  "$BENCH" $BENCH_ARGS | tee -a "$RAW"
done

median_rows() {
  awk '$1 == "row" {
         if (!($2 in n)) order[++keys] = $2
         v[$2, ++n[$2]] = $3; unit[$2] = $4
       }
       END {
         for (k = 1; k <= keys; k++) {
           key = order[k]; m = n[key]
           for (i = 1; i <= m; i++) s[i] = v[key, i]
           for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
             if (s[j] + 0 < s[i] + 0) { t = s[i]; s[i] = s[j]; s[j] = t }
           med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
           line = ""
           for (i = 1; i <= m; i++) line = line " " v[key, i]
           printf "%-28s %12.1f %-10s (runs:%s)\n", key, med, unit[key], line
         }
       }' "$1"
}

{
  echo "== medians of $RUNS server_bench runs"
  median_rows "$RAW"
} | tee "$OUT/summary.txt"

if ! command -v wrk >/dev/null; then
  echo "== wrk is not installed (Debian package wrk): no wrk figure" | tee -a "$OUT/summary.txt"
  exit 0
fi

echo "== wrk: POST /v1/check on 'server_bench serve' ($TOKENS tokens, $ORGS organizations)"
WORK=$(mktemp -d /tmp/authledger-wrk.XXXXXX)
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
KEY=server-bench-wrk-key-0123456789
(umask 077 && echo "wrk backend $KEY" >"$WORK/keys")
"$BENCH" serve --dir "$WORK/data" --keys "$WORK/keys" --populate --tokens "$TOKENS" \
  --orgs "$ORGS" --secrets "$WORK/secrets" >"$WORK/ports" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 600); do
  [[ -s "$WORK/ports" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
read -r _ HTTP_PORT _ <"$WORK/ports"
cat >"$WORK/check.lua" <<'LUA'
-- One pre-formatted POST /v1/check per token, sent in turn on every connection.
local requests = {}
local key = os.getenv("WRK_KEY")
for line in io.lines(os.getenv("WRK_SECRETS")) do
  local secret, org = line:match("^(%S+) (%S+)$")
  requests[#requests + 1] = wrk.format("POST", "/v1/check",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" },
    '{"token":"' .. secret .. '","org_id":"' .. org .. '","ip":"203.0.113.9"}')
end
local i = math.random(#requests)
request = function()
  i = i % #requests + 1
  return requests[i]
end
LUA
WRK_RAW=$OUT/wrk.log
: >"$WRK_RAW"
for run in $(seq 1 "$RUNS"); do
  echo "== wrk run $run/$RUNS ($(uptime | sed 's/.*load average/load average/'))" | tee -a "$WRK_RAW"
  WRK_KEY=$KEY WRK_SECRETS=$WORK/secrets wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" \
    -d"${WRK_SECONDS}s" --latency -s "$WORK/check.lua" "http://127.0.0.1:$HTTP_PORT/v1/check" |
    tee -a "$WRK_RAW"
done
{
  echo "== wrk: $WRK_THREADS thread(s), $WRK_CONNECTIONS connections, ${WRK_SECONDS} s; median of $RUNS"
  awk '/Requests\/sec:/ { r[++n] = $2 }
       /Non-2xx/ { bad += $NF }
       END {
         for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
         printf "wrk_http_checks %.1f requests/s (runs:", (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
         for (i = 1; i <= n; i++) printf " %s", r[i]
         printf "); non-2xx answers: %d\n", bad
       }' "$WRK_RAW"
  grep -E '^ +(50|99)%' "$WRK_RAW" | awk '{ print "wrk latency " $1 " " $2 }'
} | tee -a "$OUT/summary.txt"
