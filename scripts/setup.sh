#!/usr/bin/env bash
# Set up toolcall-harness from a fresh clone: system OpenBLAS (Linux), a .venv, the package with its
# dev extra. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# mlx's Linux CPU wheel ships a slow reference BLAS; the system OpenBLAS makes it ~10x faster.
if [ "$(uname -s)" = "Linux" ] && [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ] \
   && [ ! -e /usr/lib/aarch64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq libopenblas0-pthread >/dev/null
  elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq libopenblas0-pthread >/dev/null
  else
    echo "note: install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0-pthread) for ~10x faster CPU runs" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
echo "ready: .venv/bin/harness --help"
