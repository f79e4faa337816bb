#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages deepenergy needs to build, test and
# benchmark, but only those that are missing. Safe to run again and again.
set -euo pipefail

packages=(
  g++ make cmake pkg-config          # toolchain
  libeigen3-dev                      # the library's only dependency
  doctest-dev                        # unit tests
  libbenchmark-dev                   # benchmarks
  libcli11-dev libstb-dev            # examples (command lines, PNG output)
  libopenblas-dev                    # optional BLAS backend (DEEPENERGY_USE_BLAS)
  clang                              # fuzzing
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} needed packages are installed"
  exit 0
fi

echo "install-deps: missing packages: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: apt-get not found; install these packages by hand" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps: not root and sudo is not available; install these packages by hand" >&2
    exit 1
  fi
fi

echo "install-deps: running ${sudo_cmd[*]:+${sudo_cmd[*]} }apt-get update"
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
echo "install-deps: running ${sudo_cmd[*]:+${sudo_cmd[*]} }apt-get install -y --no-install-recommends ${missing[*]}"
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
