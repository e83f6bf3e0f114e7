#!/usr/bin/env bash
# The project's two entry points on a fresh machine (Python 3.10+ is all it assumes):
#   scripts/dev.sh demo   routes a set of prompts in five languages, offline, with no keys
#   scripts/dev.sh test   runs every test: Zig (`zig build test`) and Python (pytest)
# Both create .venv and install the package into it; Zig comes from PyPI (`ziglang`).
set -euo pipefail
cd "$(dirname "$0")/.."

command="${1:-}"
shift || true
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
case "$command" in
    demo)
        .venv/bin/python -m pip install --quiet --disable-pip-version-check .
        exec .venv/bin/python -m trinity_hybrid "$@"
        ;;
    test)
        .venv/bin/python -m pip install --quiet --disable-pip-version-check ".[test]"
        exec .venv/bin/python -m pytest "$@"
        ;;
    *)
        echo "usage: scripts/dev.sh demo|test [arguments]" >&2
        exit 2
        ;;
esac
