#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test. Ends with: tests: N passed, N failed
set -uo pipefail
cd "$(dirname "$0")/.."

if ! fc-list 2>/dev/null | grep -qi dejavu; then
  # Report plots need one font; Debian's smallest.
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq fonts-dejavu-core >/dev/null
fi
# redis-server (Debian package) for the cluster tests: membership, job records and reminders; the tests start their own.
if ! command -v redis-server >/dev/null && [ ! -x /usr/bin/redis-server ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi
# Chromium renders the report in a test, as a reader's browser would, and prints report.pdf (explain report --pdf).
if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
# poppler-utils (pdfinfo, pdftotext) read report.pdf back in the PDF tests: its pages, their size and their text.
if ! command -v pdftotext >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq poppler-utils >/dev/null
fi
# Azurite (a real Azure Blob endpoint) for the storage tests; the tests start and stop it themselves.
[ -x node_modules/.bin/azurite-blob ] || npm ci --no-audit --no-fund --silent

dotnet restore ExplainCluster.sln >/dev/null || { echo "tests: 0 passed, 1 failed"; exit 1; }
dotnet build ExplainCluster.sln -c Release --no-restore -v quiet -nologo || { echo "tests: 0 passed, 1 failed"; exit 1; }

# Every test's files (TestPaths.Root, GBs a run) go under a temporary folder of this run's own, removed when it ends:
# runs on one machine then neither fill its disk over time nor see each other's files.
TMPDIR=$(mktemp -d); export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
results=$(mktemp -d)
dotnet test ExplainCluster.sln -c Release --no-build --logger "trx;LogFileName=results.trx" --results-directory "$results"
status=$?
trx=$(find "$results" -name '*.trx' | head -n 1)
if [ -z "$trx" ]; then
  echo "tests: 0 passed, 1 failed"
  exit 1
fi
passed=$(grep -o 'passed="[0-9]*"' "$trx" | head -n 1 | tr -dc 0-9)
failed=$(grep -o 'failed="[0-9]*"' "$trx" | head -n 1 | tr -dc 0-9)
# A run that ended with no failed test but a non-zero status was aborted (a test host that crashed takes the tests it had
# not reached with it): that is a failure, counted as one.
if [ "$status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
[ "$status" -eq 0 ] && [ "${failed:-0}" -eq 0 ]
