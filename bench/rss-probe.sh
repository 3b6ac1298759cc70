#!/usr/bin/env bash
# Where a silo's memory goes during a table job (docs/benchmarks.md, "Peak RSS of a table job"): bench/cluster.sh's table
# mode, with each silo's /proc status (VmRSS, RssAnon, RssFile, VmHWM) sampled every second and, where the global tools
# dotnet-counters and dotnet-gcdump are installed (dotnet tool install -g ...), the GC's counters per second and a heap
# report after each job (PROBE_GCDUMP=1) or PROBE_MIDDUMP seconds into the 1,000,000-row job.
#   PROBE_ROWS="100000 1000000" PROBE_FRESH=1 (new silos per size) PROBE_NOTREE=1 ("errorTree": false) PROBE_GROUP=1048576 (rows a row group)
#   PROBE_JOB=bench/jobs/table-tree.json PROBE_ENV="DOTNET_GCConserveMemory=5" (the silos' extra environment) PROBE_OUT=folder
#   PROBE_HOLD=60: the silos live 60 s after the last job (a dotnet-trace attached to them ends cleanly)
#   PROBE_ALLOC=1: each silo loads bench/AllocHook (a startup hook, built here) and writes its allocation by type and heap every
#   5 s to PROBE_OUT/alloc.PID (running totals: a pass's allocation is the difference of two blocks)
set -euo pipefail
cd "$(dirname "$0")/.."
silo=src/Silo/bin/Release/net10.0/explain-silo
cli=src/Client/bin/Release/net10.0/explain
out=${PROBE_OUT:-$(mktemp -d /tmp/explain-rss-probe.XXXXXX)}; mkdir -p "$out"
work=$(mktemp -d /tmp/explain-rss-work.XXXXXX)
port=$((20000 + RANDOM % 10000))
pids=(); samplers=()
cleanup() { for p in "${samplers[@]:-}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
alloc_env=""
if [ -n "${PROBE_ALLOC:-}" ]; then
  dotnet build bench/AllocHook -c Release -v quiet -nologo >&2
  alloc_env="DOTNET_STARTUP_HOOKS=$PWD/bench/AllocHook/bin/Release/net10.0/ExplainCluster.AllocHook.dll ALLOC_HOOK_OUT=$out/alloc"
fi
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
redis="127.0.0.1:$port"
start_silos() {
  for i in 1 2; do
    env ${PROBE_ENV:-} $alloc_env Cluster__Provider=redis Cluster__Redis=$redis Cluster__SiloPort=$((port + 10 + i)) Cluster__GatewayPort=$((port + 40 + i)) \
      Health__Port=0 ModelHost__WorkerThreads=1 ModelHost__IntraOpThreads=1 \
      Logging__LogLevel__Default=Information Logging__LogLevel__Orleans=Warning Logging__LogLevel__Microsoft=Warning 'Logging__LogLevel__Orleans.Runtime.MembershipService.MembershipAgent=Information' \
      "$silo" > "$out/silo$i.$1.log" 2>&1 &
    pids[$i]=$!
  done
  for i in 1 2; do until grep -q "Finished BecomeActive" "$out/silo$i.$1.log"; do sleep 0.2; done; done
}
stop_silos() { for i in 1 2; do kill -9 "${pids[$i]}" 2>/dev/null || true; done; redis-cli -p "$port" flushall >/dev/null; sleep 1; }
st() { awk '/VmRSS|VmHWM|RssAnon|RssFile/ {printf "%s=%d ", $1, $2/1024}' "/proc/$1/status"; }
cp "${PROBE_JOB:-bench/jobs/table-tree.json}" "$work/table.json"; cp bench/jobs/synthetic30.pt "$work/"
[ -n "${PROBE_NOTREE:-}" ] && python3 -c "import json,sys; j=json.load(open(sys.argv[1])); j['errorTree']=False; json.dump(j, open(sys.argv[1],'w'))" "$work/table.json"
started=0
for rows in ${PROBE_ROWS:-100000 1000000}; do
  if [ "$started" = 0 ] || [ -n "${PROBE_FRESH:-}" ]; then [ "$started" = 1 ] && stop_silos; start_silos "$rows"; started=1; fi
  bench/Bench/bin/Release/net10.0/explain-bench synthetic-table "$rows" "$work/synthetic.parquet" "${PROBE_GROUP:-65536}" >&2
  for i in 1 2; do echo "silo$i before $rows: $(st ${pids[$i]})" >> "$out/summary.txt"; done
  for i in 1 2; do
    [ -x ~/.dotnet/tools/dotnet-counters ] && ~/.dotnet/tools/dotnet-counters collect -p "${pids[$i]}" --counters System.Runtime --format csv -o "$out/counters$i.$rows.csv" --refresh-interval 1 >/dev/null 2>&1 &
    samplers+=($!)
  done
  for i in 1 2; do echo 5 > "/proc/${pids[$i]}/clear_refs"; done
  t0=$(date +%s.%N)
  ( while :; do echo "$(echo "$(date +%s.%N) - $t0" | bc | cut -c1-6) 1: $(st ${pids[1]}) 2: $(st ${pids[2]})" >> "$out/rss.$rows.txt"; sleep 1; done ) &
  samplers+=($!)
  if [ -n "${PROBE_MIDDUMP:-}" ] && [ "$rows" = 1000000 ]; then
    ( sleep "$PROBE_MIDDUMP"; for i in 1 2; do echo "silo$i before middump: $(st ${pids[$i]})" >> "$out/summary.txt"; ~/.dotnet/tools/dotnet-gcdump collect -p "${pids[$i]}" -o "$out/mid$i.gcdump" >/dev/null 2>&1; ~/.dotnet/tools/dotnet-gcdump report "$out/mid$i.gcdump" > "$out/mid$i.txt" 2>&1; done ) &
  fi
  "$cli" submit "$work/table.json" --cluster "$redis" --id "t$rows" --out "$work/out-t$rows" >/dev/null
  while :; do
    s=$("$cli" status "t$rows" --cluster "$redis" --json)
    echo "$(date +%T) $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-6) | 1: $(st ${pids[1]}) | 2: $(st ${pids[2]})" >> "$out/proc.$rows.txt"
    echo "$s" | grep -q '"state":"completed"' && break
    echo "$s" | grep -q '"state":"failed"' && { echo "$s" >> "$out/summary.txt"; break; }
    sleep 2
  done
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  for p in "${samplers[@]}"; do kill "$p" 2>/dev/null || true; done; samplers=()
  holder=$(grep -l "Job t$rows started" "$out"/silo*.log | head -1 || true)
  { echo "rows $rows wall $wall holder $holder"; for i in 1 2; do echo "silo$i after: $(st ${pids[$i]})"; done; } >> "$out/summary.txt"
  if [ -n "${PROBE_GCDUMP:-}" ]; then
    for i in 1 2; do ~/.dotnet/tools/dotnet-gcdump report -p "${pids[$i]}" > "$out/gcdump$i.$rows.txt" 2>&1 || true; echo "silo$i after gcdump: $(st ${pids[$i]})" >> "$out/summary.txt"; done
  fi
  rm -rf "$work/out-t$rows"
done
[ -n "${PROBE_HOLD:-}" ] && sleep "$PROBE_HOLD"  # seconds the silos live on after the last job, so that a trace attached to them can end
cat "$out/summary.txt"
