#!/usr/bin/env bash
# The README's first command: installs missing packages, builds the release
# preset and runs the spiral example, passing its arguments on.
#   bash cmake/spiral.sh [spiral options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash cmake/install-deps.sh

echo "== configure (release preset)"
cmake --preset release
echo "== build"
cmake --build --preset release -j2

spiral=build/release/examples/spiral
if [ -x "$spiral" ]; then
  echo "== run $spiral $*"
  exec "$spiral" "$@"
fi

echo "The spiral example is not part of the tree yet (it comes with the examples"
echo "issue); the library and its tests were built. Run 'bash cmake/test.sh' to test."
