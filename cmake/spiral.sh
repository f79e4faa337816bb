#!/usr/bin/env bash
# The README's first command: installs missing packages, builds the release
# preset and runs the spiral example (two-spiral data, default settings),
# passing its arguments on. Outputs go to out/two-spiral/ under the repository
# root unless --out says otherwise.
#   bash cmake/spiral.sh [spiral options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash cmake/install-deps.sh

echo "== configure (release preset)"
cmake --preset release
echo "== build (the spiral example)"
cmake --build --preset release -j2 --target spiral

spiral=build/release/examples/spiral
echo "== run $spiral $*"
"$spiral" "$@"
echo "== done: the figure, samples, energy grid, checkpoint and metrics are in the"
echo "   directory named above (out/two-spiral/ by default); see 'spiral --help'."
