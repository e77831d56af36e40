#!/usr/bin/env bash
# Set up toolcall-harness from a fresh clone: system OpenBLAS (Linux), a .venv, the package with its
# dev extra. Safe to run again. Quiet: each step's output is kept back and shown only if it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

quietly() {  # quietly WHAT COMMAND...: run COMMAND; on failure print its output and stop
  local what=$1
  shift
  if ! "$@" >"$LOG" 2>&1; then
    echo "setup failed while $what; its output:" >&2
    cat "$LOG" >&2
    exit 1
  fi
}

# mlx's Linux CPU wheel ships a slow reference BLAS; the system OpenBLAS makes it ~10x faster.
if [ "$(uname -s)" = "Linux" ] && [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ] \
   && [ ! -e /usr/lib/aarch64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=$(command -v sudo || true)
  if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
    quietly "updating apt's package lists" $SUDO apt-get update -qq
    quietly "installing OpenBLAS (libopenblas0-pthread)" $SUDO apt-get install -y -qq libopenblas0-pthread
  else
    echo "note: install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0-pthread) for ~10x faster CPU runs" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || quietly "creating .venv with $PYTHON" "$PYTHON" -m venv .venv
echo "installing toolcall-harness into .venv (a minute or two the first time) ..."
quietly "upgrading pip" .venv/bin/python -m pip install --upgrade pip
quietly "installing the package (pip install -e .[dev])" .venv/bin/python -m pip install -e ".[dev]"
# bytecode written once: where PYTHONDONTWRITEBYTECODE is set, every command would compile the package again
quietly "compiling the package" .venv/bin/python -m compileall -q harness
echo "ready: .venv/bin/harness --help"
