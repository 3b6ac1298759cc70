#!/usr/bin/env bash
# Bytes written per sample for each "maps" setting (issue 18 item 5), on 224x224x3 inputs: the 12 RGB images of
# tests/fixtures/images/large (PNG and JPEG, 64-80 px) resized and centre-cropped to 224 as torchvision does, explained by
# the torchvision ResNet-18 fixture with saliency ([3, 224, 224] maps) and grad-cam at layer4 ([224, 224] maps).
# For each setting: the bytes of every file under attributions/ (parts and index files, .npy headers included) divided by
# the samples, per method and together. Needs a Release build (dotnet build ExplainCluster.sln -c Release).
#   bash bench/maps-bytes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cli=src/Client/bin/Release/net10.0/explain
work=$(mktemp -d /tmp/explain-maps-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
images=$PWD/tests/fixtures/images/large
model=$PWD/tests/fixtures/torchvision/resnet18_scripted.pt
settings=(
  'default|{}'
  'float16|{"dtype": "float16"}'
  'sum|{"channels": "sum"}'
  'float16+sum|{"dtype": "float16", "channels": "sum"}'
  '56x56|{"resolution": [56, 56]}'
  'float16+sum+56x56|{"dtype": "float16", "channels": "sum", "resolution": [56, 56]}'
  'float16+sum+28x28|{"dtype": "float16", "channels": "sum", "resolution": [28, 28]}'
  'subset 25%|{"store": "subset", "subset": {"fraction": 0.25, "seed": 0}}'
  'none|{"store": "none"}'
)
printf '%-22s %12s %12s %12s %10s\n' setting saliency grad-cam total 'vs default'
base=
for entry in "${settings[@]}"; do
  name=${entry%%|*}; maps=${entry#*|}
  out=$work/out-${name//[^a-z0-9]/_}
  cat > "$work/job.json" <<JOB
{ "model": { "uri": "$model" },
  "data": { "images": "$images", "labels": "folders",
            "transforms": [{"resize": 224}, {"centerCrop": 224}, {"toTensor": {}},
                           {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}] },
  "methods": { "saliency": {}, "grad-cam": { "layer": "layer4" } },
  "batchSize": 4, "output": "$out", "maps": $maps }
JOB
  "$cli" run "$work/job.json" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  n=$(grep -o '"samples": [0-9]*' "$out/manifest.json" | head -1 | grep -o '[0-9]*$')
  bytes() { if [ -d "$out/attributions/$1" ]; then find "$out/attributions/$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; else echo 0; fi; }
  s=$(bytes saliency); g=$(bytes grad-cam); t=$((s + g))
  [ -z "$base" ] && base=$t
  printf '%-22s %12.0f %12.0f %12.0f %9.3fx\n' "$name" "$(echo "$s / $n" | bc -l)" "$(echo "$g / $n" | bc -l)" "$(echo "$t / $n" | bc -l)" "$(echo "$t / $base" | bc -l)"
done
echo "($n samples; bytes per sample)"
