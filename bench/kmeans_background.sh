#!/usr/bin/env bash
# kernel-shap on credit_data (the credit MLP, 512 coalitions, ~1 % of the rows) with different backgrounds: the
# attributions' distance from those on a 1000-row background, and each run's wall time (docs/benchmarks.md).
# Run from the repository root after `dotnet build ExplainCluster.sln -c Release` (numpy: Debian's python3-numpy):
#  bash bench/kmeans_background.sh
set -euo pipefail
F="$PWD/tests/fixtures/tabular"
work="${WORK:-$(mktemp -d)}"
cli="$PWD/src/Client/bin/Release/net10.0/explain"
features=$(cat "$F/credit_features.json")
declare -A backgrounds=(
  [rows1000]='{"samples": 1000, "seed": 0}'
  [rows10]='{"samples": 10, "seed": 0}'
  [kmeans10]='{"kmeans": 10, "samples": 1000, "seed": 0}'
  [rows30]='{"samples": 30, "seed": 0}'
  [kmeans30]='{"kmeans": 30, "samples": 1000, "seed": 0}'
)
echo "| background | model rows per explained row | wall time (s) | mean abs(φ − φ_1000) / mean abs(φ_1000) |"
echo "|---|---|---|---|"
for name in rows1000 rows10 kmeans10 rows30 kmeans30; do
  cat > "$work/$name.json" <<JOB
{ "model": { "uri": "$F/credit_mlp.pt", "classes": ["bad", "good"] },
  "data": { "table": "$F/credit_data.csv", "features": $features, "label": "Status" },
  "methods": { "kernel-shap": { "samples": 512, "background": ${backgrounds[$name]}, "subset": { "fraction": 0.01, "seed": 1 } } },
  "target": "label", "shardSize": 4454, "output": "$work/out-$name", "overwrite": true }
JOB
  t0=$(date +%s.%N)
  "$cli" run "$work/$name.json" >/dev/null
  wall=$(echo "$(date +%s.%N) - $t0" | bc -l)
  /usr/bin/python3 - "$work" "$name" "$wall" <<'PY'
import sys, numpy as np
work, name, wall = sys.argv[1], sys.argv[2], float(sys.argv[3])
phi = lambda n: np.load(f"{work}/out-{n}/attributions/kernel-shap/part-00000.npy").astype(np.float64)
ref, this = phi("rows1000"), phi(name)
rows = {"rows1000": 1000, "rows10": 10, "kmeans10": 10, "rows30": 30, "kmeans30": 30}[name]
print(f"| {name} | {514 * rows} | {wall:.1f} | {np.abs(this - ref).mean() / np.abs(ref).mean():.4f} |")
PY
done
