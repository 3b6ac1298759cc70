#!/usr/bin/env bash
# Cluster benchmarks on real processes on loopback: redis-server, explain-silo processes and the explain CLI.
#   bash bench/cluster.sh scale      1 vs 2 worker silo processes (1 model-host thread, 1 intra-op thread each)
#   bash bench/cluster.sh recovery   3 silos, kill -9 one worker mid-job: time to the lost shards' re-run, job time vs fault-free
#   bash bench/cluster.sh million    1,000,000 samples (the demo tiled ×100) through 2 silos: wall time, each process's peak RSS
#   bash bench/cluster.sh compare    the same million explained by the model (A) and by its retraining (B,
#                                    tests/fixtures/compare/seed1.pt), B's job comparing itself with A in its compare
#                                    pass: each job's wall time, the compare pass's, each process's peak RSS per job
#   bash bench/cluster.sh table      a synthetic table of 30 features (explain-bench synthetic-table; model bench/jobs/synthetic30.pt,
#                                    job bench/jobs/table.json: saliency, IG, kernel-shap on a 1% subset) at 100,000 and at
#                                    1,000,000 rows (BENCH_ROWS) through 2 silos: wall time and each silo's peak RSS per size;
#                                    BENCH_TABLE_JOB=bench/jobs/table-tree.json: saliency only, the error tree's cost in isolation
#   bash bench/cluster.sh shards     the same 100,000 samples (Fashion-MNIST test set × 10, saliency: bench/jobs/shards.json) at
#                                    shard sizes BENCH_SIZES (default 4096 512 64 16 4: 25 to 25,000 shards) through 2 silos: wall
#                                    time, bytes and commands into Redis during each job (INFO stats), bytes per shard, CPU seconds
#                                    of the silos and of redis-server during each job; BENCH_RANGES (default 64): the silos'
#                                    Ranges:Size, each value in turn (0: every explain outcome to the job grain on its own)
# Environment: BENCH_PIN=1 pins silo i to core i-1 (taskset), so one silo gets exactly one core;
# BENCH_TILE (dataset = Fashion-MNIST test set × tile; default 5 for scale/recovery), BENCH_ROUNDS (default 2),
# BENCH_JOB (the job file; default bench/jobs/cluster.json: saliency + grad-x-input + grad-cam, shardSize 2048).
# Needs a Release build (dotnet build ExplainCluster.sln -c Release) and redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-scale}
silo=src/Silo/bin/Release/net10.0/explain-silo
cli=src/Client/bin/Release/net10.0/explain
work=$(mktemp -d /tmp/explain-cluster-bench.XXXXXX)
port=$((20000 + RANDOM % 10000))
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

tile=${BENCH_TILE:-5}; [ "$mode" = million ] || [ "$mode" = compare ] && tile=${BENCH_TILE:-100}; [ "$mode" = shards ] && tile=${BENCH_TILE:-10}
[ "$mode" = shards ] && BENCH_JOB=${BENCH_JOB:-bench/jobs/shards.json}
python3 - "$work" "$tile" <<'PY'
import sys, struct
work, tile = sys.argv[1], int(sys.argv[2])
src = 'samples/fashion-mnist/'
for name, header in (('t10k-images-idx3-ubyte', 16), ('t10k-labels-idx1-ubyte', 8)):
    data = open(src + name, 'rb').read()
    head, body = bytearray(data[:header]), data[header:]
    struct.pack_into('>I', head, 4, struct.unpack_from('>I', head, 4)[0] * tile)
    with open(f'{work}/{name}', 'wb') as f:
        f.write(head)
        for _ in range(tile): f.write(body)
PY
cp samples/fashion-mnist/model.pt "$work/"
# The benchmark's own job (bench/jobs/cluster.json), not the demo's, which runs the whole suite: the line below says what it runs.
job=${BENCH_JOB:-bench/jobs/cluster.json}
cp "$job" "$work/job.json"
samples=$((10000 * tile))

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
redis="127.0.0.1:$port"

start_silos() { # count first-index
  for i in $(seq "$2" $(($2 + $1 - 1))); do
    pin=(); [ -n "${BENCH_PIN:-}" ] && pin=(taskset -c $(( (i - 1) % $(nproc) )))
    "${pin[@]}" env Cluster__Provider=redis Cluster__Redis=$redis Cluster__SiloPort=$((port + 10 + i)) Cluster__GatewayPort=$((port + 40 + i)) \
      Health__Port=0 ModelHost__WorkerThreads=1 ModelHost__IntraOpThreads=1 \
      Logging__LogLevel__Default=Information Logging__LogLevel__Orleans=Warning Logging__LogLevel__Microsoft=Warning \
      'Logging__LogLevel__Orleans.Runtime.MembershipService.MembershipAgent=Information' \
      "$silo" > "$work/silo$i.log" 2>&1 &
    pids+=($!); echo $! > "$work/silo$i.pid"
  done
  for i in $(seq "$2" $(($2 + $1 - 1))); do until grep -q "Finished BecomeActive" "$work/silo$i.log"; do sleep 0.2; done; done
}
stop_silos() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; pids=(); redis-cli -p "$port" flushall >/dev/null; sleep 1; }
now() { date +%s.%N; }
run_job() { # id -> seconds
  local t0 t1; t0=$(now)
  "$cli" submit "$work/job.json" --cluster "$redis" --id "$1" --out "$work/out-$1" >/dev/null
  "$cli" watch "$1" --cluster "$redis" >/dev/null
  t1=$(now); echo "$t1 - $t0" | bc -l
}
shard_size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["shardSize"])' "$job")
echo "$samples samples (Fashion-MNIST test set × $tile), $job: $(python3 -c 'import json,sys; print(" + ".join(json.load(open(sys.argv[1]))["methods"]))' "$job"), shardSize $shard_size"

case "$mode" in
scale)
  rounds=${BENCH_ROUNDS:-2}
  echo "| round | 1 silo (s) | 2 silos (s) | 1 silo (samples/s) | 2 silos (samples/s) | ratio |"
  echo "|---|---|---|---|---|---|"
  for r in $(seq 1 "$rounds"); do
    start_silos 1 1; run_job "warm$r" >/dev/null; one=$(run_job "one$r"); stop_silos
    start_silos 2 1; run_job "warm2$r" >/dev/null; two=$(run_job "two$r"); stop_silos
    printf "| %d | %.2f | %.2f | %.0f | %.0f | %.2f |\n" "$r" "$one" "$two" "$(echo "$samples/$one" | bc -l)" "$(echo "$samples/$two" | bc -l)" "$(echo "$one/$two" | bc -l)"
  done
  ;;
recovery)
  start_silos 3 1
  run_job warm >/dev/null
  clean=$(run_job clean)
  "$cli" submit "$work/job.json" --cluster "$redis" --id faulty --out "$work/out-faulty" >/dev/null
  t0=$(now)
  # Kill a worker that does not hold the job grain once a third of the shards are staged.
  shards=$(( (samples + shard_size - 1) / shard_size ))
  until [ "$(find "$work/out-faulty/_attempts" -name partial.bin 2>/dev/null | wc -l)" -ge $((shards / 3)) ]; do sleep 0.05; done
  holder=$(grep -l "Job faulty started" "$work"/silo*.log | head -1)
  victim=$(ls "$work"/silo*.log | grep -v "$holder" | head -1)
  kill -9 "$(cat "${victim%.log}.pid")"; killed=$(date +%H:%M:%S.%N | cut -c1-12)
  "$cli" watch faulty --cluster "$redis" >/dev/null
  total=$(echo "$(now) - $t0" | bc -l)
  rerun=$(grep -h "left the cluster; running it again" "$work"/silo*.log | head -1 | cut -c1-12)
  lost=$(grep -h "left the cluster; running it again" "$work"/silo*.log | wc -l)
  secs() { echo "$1" | awk -F: '{ printf "%.3f", $1 * 3600 + $2 * 60 + $3 }'; }
  printf "| fault-free job (s) | job with kill -9 (s) | ratio | kill -9 → lost shards running again (s) | shards re-run |\n|---|---|---|---|---|\n"
  printf "| %.2f | %.2f | %.2f | %.2f | %d |\n" "$clean" "$total" "$(echo "$total/$clean" | bc -l)" "$(echo "$(secs "$rerun") - $(secs "$killed")" | bc -l)" "$lost"
  cmp "$work/out-clean/summary.json" "$work/out-faulty/summary.json" && echo "summary.json: byte-identical to the fault-free run"
  ;;
million)
  start_silos 2 1
  "$cli" submit "$work/job.json" --cluster "$redis" --id million --out "$work/out-million" >/dev/null
  t0=$(now)
  peaks=()
  while ! "$cli" status million --cluster "$redis" --json | grep -q '"state":"\(completed\|failed\)"'; do
    for i in 1 2; do
      rss=$(grep VmHWM "/proc/$(cat "$work/silo$i.pid")/status" | awk '{print $2}'); peaks[$i]=$rss
    done
    sleep 2
  done
  total=$(echo "$(now) - $t0" | bc -l)
  "$cli" status million --cluster "$redis"
  printf "| samples | wall time (s) | samples/s | silo 1 peak RSS (MB) | silo 2 peak RSS (MB) |\n|---|---|---|---|---|\n"
  printf "| %d | %.1f | %.0f | %.0f | %.0f |\n" "$samples" "$total" "$(echo "$samples/$total" | bc -l)" "$(echo "${peaks[1]}/1024" | bc -l)" "$(echo "${peaks[2]}/1024" | bc -l)"
  ;;
compare)
  start_silos 2 1
  cp tests/fixtures/compare/seed1.pt "$work/"
  python3 - "$work" <<'PY2'
import json, sys
work = sys.argv[1]
job = json.load(open(f'{work}/job.json'))
job['model']['uri'] = 'seed1.pt'
job['compare'] = {'baseline': f'{work}/out-A'}
json.dump(job, open(f'{work}/job-B.json', 'w'), indent=2)
PY2
  rss() { grep VmHWM "/proc/$(cat "$work/silo$1.pid")/status" | awk '{print $2}'; }
  reset_peaks() { for i in 1 2; do echo 5 > "/proc/$(cat "$work/silo$i.pid")/clear_refs"; done; }
  # follow JOB-ID: prints "wall compare-start peak1 peak2" once it completes (compare-start: seconds into the job when
  # its status first names the compare pass, or -1).
  follow() {
    local t0 cmp=-1 st p1=0 p2=0 r; t0=$(now)
    while :; do
      st=$("$cli" status "$1" --cluster "$redis" --json)
      for i in 1 2; do r=$(rss $i); [ "$i" = 1 ] && p1=$r || p2=$r; done
      [ "$cmp" = -1 ] && echo "$st" | grep -q 'comparing with the baseline' && cmp=$(echo "$(now) - $t0" | bc -l)
      echo "$st" | grep -q '"state":"completed"' && break
      echo "$st" | grep -q '"state":"failed"' && { echo "$st" >&2; exit 1; }
      sleep 1
    done
    echo "$(echo "$(now) - $t0" | bc -l) $cmp $p1 $p2"
  }
  reset_peaks
  "$cli" submit "$work/job.json" --cluster "$redis" --id A --out "$work/out-A" >/dev/null
  read -r a _ a1 a2 < <(follow A)
  reset_peaks
  "$cli" submit "$work/job-B.json" --cluster "$redis" --id B --out "$work/out-B" >/dev/null
  read -r b c b1 b2 < <(follow B)
  printf "| job | wall time (s) | of which the compare pass (s) | silo 1 peak RSS (MB) | silo 2 peak RSS (MB) |\n|---|---|---|---|---|\n"
  printf "| A: explain | %.1f | – | %.0f | %.0f |\n" "$a" "$(echo "$a1/1024" | bc -l)" "$(echo "$a2/1024" | bc -l)"
  printf "| B: explain + compare with A | %.1f | %.1f | %.0f | %.0f |\n" "$b" "$(echo "$b - $c" | bc -l)" "$(echo "$b1/1024" | bc -l)" "$(echo "$b2/1024" | bc -l)"
  echo "compare pass / explain of A: $(echo "($b - $c) / $a" | bc -l | cut -c1-5)"
  echo "job B's grain (the coordinator, which holds the compare parts until commit) was on $(basename "$(grep -l "Job B started" "$work"/silo*.log | head -1)" .log)"
  python3 - "$work/out-B/compare/comparison.json" <<'PY2'
import json, sys
c = json.load(open(sys.argv[1]))
print('sameInputs:', c['sameInputs'], '| accuracy B - A:', c['predictions']['accuracy'])
for m in c['methods']: print(m['method'] if 'method' in m else m.get('name'), 'median rho', m['spearman']['median'], 'n', m['spearman']['n'])
for f in c['findings'][:4]: print('-', f)
PY2
  ;;
table)
  # Peak RSS per silo while a job runs (VmHWM, reset before each job), its wall time; the table written once per size.
  rss() { grep VmHWM "/proc/$(cat "$work/silo$1.pid")/status" | awk '{print $2}'; }
  start_silos 2 1
  cp "${BENCH_TABLE_JOB:-bench/jobs/table.json}" "$work/table.json"; cp bench/jobs/synthetic30.pt "$work/"
  printf "| rows | shards | wall time (s) | rows/s | silo 1 peak RSS (MB) | silo 2 peak RSS (MB) |\n|---|---|---|---|---|---|\n" > "$work/table.md"
  for rows in ${BENCH_ROWS:-100000 1000000}; do
    bench/Bench/bin/Release/net10.0/explain-bench synthetic-table "$rows" "$work/synthetic.parquet" >&2
    for i in 1 2; do echo 5 > "/proc/$(cat "$work/silo$i.pid")/clear_refs"; done
    t0=$(now)
    "$cli" submit "$work/table.json" --cluster "$redis" --id "t$rows" --out "$work/out-t$rows" >/dev/null
    p1=0; p2=0
    while :; do
      st=$("$cli" status "t$rows" --cluster "$redis" --json)
      p1=$(rss 1); p2=$(rss 2)
      echo "$st" | grep -q '"state":"completed"' && break
      echo "$st" | grep -q '"state":"failed"' && { echo "$st" >&2; exit 1; }
      sleep 2
    done
    wall=$(echo "$(now) - $t0" | bc -l)
    shards=$(( (rows + 16383) / 16384 ))
    printf "| %d | %d | %.1f | %.0f | %.0f | %.0f |\n" "$rows" "$shards" "$wall" "$(echo "$rows/$wall" | bc -l)" "$(echo "$p1/1024" | bc -l)" "$(echo "$p2/1024" | bc -l)" >> "$work/table.md"
    python3 - "$work/out-t$rows/summary.json" <<'PY3' >&2
import json, sys
s = json.load(open(sys.argv[1]))
print('accuracy', round(s['errorAnalysis']['accuracy'], 4), '| samples per method:', {k: v['samples'] for k, v in s['methods'].items()})
PY3
    rm -rf "$work/out-t$rows"
  done
  cat "$work/table.md"
  ;;
shards)
  # Redis counters (INFO stats) read before and after each job: what the cluster sent Redis while the job ran (membership
  # and reminders included), the coordinator's records most of it.
  stat() { redis-cli -p "$port" info stats | tr -d '\r' | awk -F: -v k="$1" '$1 == k { print $2 }'; }
  # CPU seconds (user + system) of the two silos and of redis-server over the job: what the cluster spent beyond the shards' tensor work.
  cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
  redis_cpu() { redis-cli -p "$port" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.2f", s }'; }
  printf "| Ranges:Size | shardSize | shards | wall time (s) | explain outcomes / messages to the job | bytes into Redis | per shard | commands into Redis | silos' CPU (s) | Redis CPU (s) |\n|---|---|---|---|---|---|---|---|---|---|\n" > "$work/shards.md"
  for ranges in ${BENCH_RANGES:-64}; do
  export Ranges__Size=$ranges
  for size in ${BENCH_SIZES:-4096 512 64 16 4}; do
    python3 - "$work/job.json" "$size" <<'PY4'
import json, sys
job = json.load(open(sys.argv[1])); job['shardSize'] = int(sys.argv[2]); json.dump(job, open(sys.argv[1], 'w'), indent=2)
PY4
    start_silos 2 1
    b0=$(stat total_net_input_bytes); c0=$(stat total_commands_processed); s0=$(echo "$(cpu "${pids[0]}") + $(cpu "${pids[1]}")" | bc -l); r0=$(redis_cpu)
    wall=$(run_job "s$size")
    b1=$(stat total_net_input_bytes); c1=$(stat total_commands_processed); s1=$(echo "$(cpu "${pids[0]}") + $(cpu "${pids[1]}")" | bc -l); r1=$(redis_cpu)
    "$cli" status "s$size" --cluster "$redis" | head -3 >&2
    shards=$(( (samples + size - 1) / size ))
    # The job grain's own count, logged as its explain pass ends: "took N outcomes in M messages".
    took=$(grep -ho "its explain pass took [0-9]* outcomes in [0-9]* messages" "$work"/silo*.log | tail -1 | awk '{ print $5 " / " $8 }')
    printf "| %d | %d | %d | %.1f | %s | %s | %.0f B | %d | %.1f | %.2f |\n" "$ranges" "$size" "$shards" "$wall" "${took:-?}" "$(numfmt --to=iec-i --suffix=B $((b1 - b0)))" "$(echo "($b1 - $b0) / $shards" | bc -l)" $((c1 - c0)) \
      "$(echo "$s1 - $s0" | bc -l)" "$(echo "$r1 - $r0" | bc -l)" >> "$work/shards.md"
    rm -rf "$work/out-s$size"
    stop_silos
  done
  done
  cat "$work/shards.md"
  ;;
esac
