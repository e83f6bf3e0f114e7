#!/usr/bin/env bash
# The project's two entry points on a fresh machine (Python 3.10+ is all it assumes):
#   scripts/dev.sh demo   the 24-prompt demo (trinity-hybrid demo), offline on the local model with no keys
#   scripts/dev.sh test   runs every test: Zig (`zig build test`) and Python (pytest)
# Both create .venv and install the package into it; Zig comes from PyPI (`ziglang`).
set -euo pipefail
cd "$(dirname "$0")/.."

command="${1:-}"
shift || true
python="${PYTHON:-python3}"
# llama-cpp-python (the `local` extra) compiles llama.cpp from source; a portable build, not one
# tuned to this CPU, so that a wheel pip caches here also runs on another machine.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
case "$command" in
    demo)
        .venv/bin/python -m pip install --quiet --disable-pip-version-check ".[local,demo]"
        exec .venv/bin/python -m trinity_hybrid demo "$@"
        ;;
    test)
        # Eager: an old .venv is brought to what a fresh clone resolves (tests/test_dependencies.py).
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager ".[test,local]"
        exec .venv/bin/python -m pytest "$@"
        ;;
    *)
        echo "usage: scripts/dev.sh demo|test [arguments]" >&2
        exit 2
        ;;
esac
