#!/usr/bin/env bash
# The README's test command: installs missing packages, builds the release
# preset (library tests, examples, benchmarks) and runs every test.
#   bash cmake/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash cmake/install-deps.sh

echo "== configure (release preset)"
cmake --preset release
echo "== build"
cmake --build --preset release -j2
echo "== test (as many at once as there are cores)"
ctest --preset release -j "$(nproc 2>/dev/null || echo 2)"
