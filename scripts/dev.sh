#!/usr/bin/env bash
# The project's two entry points on a fresh machine (Python 3.10+ is all it assumes):
#   scripts/dev.sh demo   the 24-prompt demo (trinity-hybrid demo), offline on the local model with no keys
#   scripts/dev.sh test   runs every test: Zig (`zig build test`) and Python (pytest)
# Both create .venv and install the package into it; Zig comes from PyPI (`ziglang`).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/dev.sh demo|test [arguments]
  demo [demo options]    the 24-prompt demo (options: trinity-hybrid demo --help),
                         offline on the embedded local model when no key is set
  test [pytest options]  every test: Zig (zig build test) and Python (pytest)
Both create .venv and install the package into it first."
# Before anything is created or installed: a wrong command only prints the usage.
command="${1:-}"
case "$command" in
    demo | test) shift ;;
    -h | --help)
        echo "$usage"
        exit 0
        ;;
    *)
        echo "$usage" >&2
        exit 2
        ;;
esac

say() { echo "dev.sh: $*" >&2; }
python="${PYTHON:-python3}"
# llama-cpp-python (the `local` extra) compiles llama.cpp from source; a portable build, not one
# tuned to this CPU, so that a wheel pip caches here also runs on another machine.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"

if [ ! -x .venv/bin/python ]; then
    say "creating .venv ($("$python" --version 2>&1))"
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check)
"${pip[@]}" --quiet --upgrade pip
# The one long step of a first run: pip's own progress is shown for it, and quiet otherwise.
verbosity=(--quiet)
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
    say "installing the local model's runtime, llama-cpp-python: pip builds llama.cpp from source," \
        "about 3 minutes on 2 cores (measured here; longer on a busy machine), unless pip's cache" \
        "holds the wheel of an earlier build"
    verbosity=()
fi
case "$command" in
    demo)
        say "building the native core with Zig and installing trinity-hybrid[local,demo] into .venv"
        "${pip[@]}" ${verbosity[@]+"${verbosity[@]}"} ".[local,demo]"
        exec .venv/bin/python -m trinity_hybrid demo "$@"
        ;;
    test)
        say "building the native core with Zig and installing trinity-hybrid[test,local] into .venv"
        # Eager: an old .venv is brought to what a fresh clone resolves (tests/test_dependencies.py).
        "${pip[@]}" ${verbosity[@]+"${verbosity[@]}"} --upgrade --upgrade-strategy eager ".[test,local]"
        exec .venv/bin/python -m pytest "$@"
        ;;
esac
