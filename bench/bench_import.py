"""Start-up cost: wall time of a fresh interpreter that imports the package (and then uses it),
the import's own cumulative time from `-X importtime`, and resident memory after each step, beside
the same for tiktoken, pycld2 and lingua, which the bench venv also holds, and for litellm, which
lives in a venv of its own (`.venv-litellm`, made by bench/run.py): its dependencies would change
what other imports load in the bench venv (httpx imports click and rich whenever they are there).

    python bench/bench_import.py [--quick]   ->  bench/results/import.json
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from measure import ENVIRONMENT, LANGUAGES_OURS, ROOT, arguments, write_json
from token_corpus import cl100k_encoding

RUNS = 10
RUNS_QUICK = 5

# Wall time of `python -c CODE`, per case. The interpreter alone is the floor under every case.
WALL_CASES = {
    "interpreter": "pass",
    "import trinity_hybrid": "import trinity_hybrid",
    "import tiktoken": "import tiktoken",
    "trinity_hybrid first estimate": "import trinity_hybrid; trinity_hybrid.estimate_tokens('hello')",
    "tiktoken first encode": "import tiktoken; tiktoken.get_encoding('cl100k_base').encode('hello')",
    "trinity_hybrid node and route": (
        f"import trinity_hybrid; trinity_hybrid.TrinityHybridNode.from_env({ENVIRONMENT!r}).route('hello')"
    ),
}
IMPORTTIME_PACKAGES = ("trinity_hybrid", "tiktoken")

# The peer a user most often weighs us against; measured with its own venv's interpreter, against
# that interpreter's own floor. Without LITELLM_LOCAL_MODEL_COST_MAP its import fetches a price
# list from GitHub, which this offline machine would wait for: the flag measures the import alone.
LITELLM_PYTHON = ROOT / ".venv-litellm" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
LITELLM_ENVIRONMENT = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
LITELLM_WALL_CASES = {"interpreter (litellm venv)": "pass", "import litellm": "import litellm"}
LITELLM_MEMORY_STEPS = [("import", "import litellm")]

# Resident memory after each step, per library: (step name, code run before reading VmRSS).
_LINGUA_BUILD = (
    "from lingua import IsoCode639_1, Language, LanguageDetectorBuilder; "
    "languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) "
    f"for c in {LANGUAGES_OURS!r}]; "
    "detector = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build(); "
    "detector.detect_language_of('hello world')"
)
MEMORY_STEPS = {
    "trinity_hybrid": [
        ("import", "import trinity_hybrid"),
        ("first call", "trinity_hybrid.detect_language('hello world')"),
        ("node and route", f"node = trinity_hybrid.TrinityHybridNode.from_env({ENVIRONMENT!r}); node.route('hello')"),
    ],
    "tiktoken": [
        ("import", "import tiktoken"),
        ("first call", "encoding = tiktoken.get_encoding('cl100k_base'); encoding.encode('hello world')"),
    ],
    "pycld2": [
        ("import", "import pycld2"),
        ("first call", "pycld2.detect('hello world')"),
    ],
    "lingua (28 languages, high accuracy)": [
        ("import", "import lingua"),
        ("first call", _LINGUA_BUILD),
    ],
}

_PROBE = """
import json
def rss_kib():
    with open('/proc/self/status') as status:
        fields = dict(line.split(':', 1) for line in status)
    return int(fields['VmRSS'].split()[0])
steps = [('interpreter', rss_kib())]
"""


def _environment() -> dict[str, str]:
    cl100k_encoding()  # unpacks the vocabulary into TIKTOKEN_CACHE_DIR, which children inherit
    return dict(os.environ)


def wall_ms(cases: dict[str, tuple[str, str]], runs: int, environment: dict[str, str]) -> dict[str, dict[str, float]]:
    """Wall time of ``PYTHON -c CODE`` per case (name -> (python, code)); the cases take turns,
    run after run, so that a change in the machine's load falls on all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for run in range(runs + 1):
        for name, (python, code) in cases.items():
            start = time.perf_counter_ns()
            subprocess.run([python, "-c", code], check=True, env=environment)
            if run > 0:  # the first run warms the file cache
                samples[name].append((time.perf_counter_ns() - start) / 1e6)
    return {
        name: {"median_ms": statistics.median(values), "min_ms": min(values), "max_ms": max(values), "runs": runs}
        for name, values in samples.items()
    }


def importtime_ms(packages: dict[str, str], runs: int, environment: dict[str, str]) -> dict[str, float]:
    """Median cumulative import time of each package (name -> python) as ``-X importtime`` reports it."""
    samples: dict[str, list[float]] = {package: [] for package in packages}
    for _ in range(runs):
        for package, python in packages.items():
            completed = subprocess.run(
                [python, "-X", "importtime", "-c", f"import {package}"],
                check=True,
                env=environment,
                capture_output=True,
                text=True,
            )
            pattern = rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(package)}\s*$"
            match = re.search(pattern, completed.stderr, re.MULTILINE)
            assert match, f"-X importtime printed no line for {package}"
            samples[package].append(int(match.group(1)) / 1000)
    return {package: statistics.median(values) for package, values in samples.items()}


def memory_kib(steps: list[tuple[str, str]], environment: dict[str, str], python: str = sys.executable) -> dict[str, int]:
    """VmRSS after the interpreter starts, then after each step, in one fresh process."""
    lines = [_PROBE]
    for name, code in steps:
        lines.append(code)
        lines.append(f"steps.append(({name!r}, rss_kib()))")
    lines.append("print(json.dumps(steps))")
    completed = subprocess.run(
        [python, "-c", "\n".join(lines)], check=True, env=environment, capture_output=True, text=True
    )
    return dict(json.loads(completed.stdout))


def litellm_version() -> str | None:
    """litellm's version in its venv, or None when that venv is missing or broken."""
    if not Path(LITELLM_PYTHON).is_file():
        return None
    code = "from importlib.metadata import version; print(version('litellm'))"
    completed = subprocess.run([str(LITELLM_PYTHON), "-c", code], capture_output=True, text=True, check=False)
    return completed.stdout.strip() if completed.returncode == 0 else None


def main() -> None:
    options = arguments(__doc__.splitlines()[0])
    runs = RUNS_QUICK if options.quick else RUNS
    environment = {**_environment(), **LITELLM_ENVIRONMENT}
    wall_cases = {name: (sys.executable, code) for name, code in WALL_CASES.items()}
    importtime_packages = {package: sys.executable for package in IMPORTTIME_PACKAGES}
    memory_steps = {library: (steps, sys.executable) for library, steps in MEMORY_STEPS.items()}
    versions = {
        name: version(name) for name in ("trinity-hybrid", "cffi", "tiktoken", "pycld2", "lingua-language-detector")
    }
    litellm = litellm_version()
    if litellm is None:
        print("bench_import: no .venv-litellm (bench/run.py makes it); litellm is left out", file=sys.stderr)
    else:
        wall_cases.update({name: (str(LITELLM_PYTHON), code) for name, code in LITELLM_WALL_CASES.items()})
        importtime_packages["litellm"] = str(LITELLM_PYTHON)
        memory_steps["litellm"] = (LITELLM_MEMORY_STEPS, str(LITELLM_PYTHON))
        versions["litellm"] = litellm
    write_json(
        "import",
        {
            "runs": runs,
            "wall": wall_ms(wall_cases, runs, environment),
            "wall_code": {name: code for name, (_, code) in wall_cases.items()},
            "importtime_ms": importtime_ms(importtime_packages, runs, environment),
            "rss_kib": {
                library: memory_kib(steps, environment, python) for library, (steps, python) in memory_steps.items()
            },
            "memory_steps": {library: dict(steps) for library, (steps, _) in memory_steps.items()},
            "versions": versions,
        },
    )


if __name__ == "__main__":
    main()
