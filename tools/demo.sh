#!/usr/bin/env bash
# Runs `explain demo` on a fresh machine: restores, builds and explains the bundled Fashion-MNIST sample.
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet run --project src/Client -c Release -- demo "$@"
