"""An x86-64 package carries two builds of the core, baseline and x86-64-v3; the loader picks the
second where the CPU runs it. Both must give the same answers: their vector paths differ (16-byte
blocks against 32-byte ones), so each is run on the same texts here and compared."""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
from pathlib import Path

import pytest
from trinity_hybrid import _native

HELD_OUT = Path(__file__).resolve().parent / "data" / "language_held_out.tsv"
IS_X86_64 = platform.machine().lower() in ("x86_64", "amd64")

# Runs in a child process under each build: one line of JSON per text with the packed detection,
# the token estimate and the route.
ANSWERS_PROGRAM = """
import json, sys
from trinity_hybrid import TrinityHybridNode, _native
from trinity_hybrid._text import encode_text
ffi, lib = _native.load()
node = TrinityHybridNode.from_env({"GROQ_API_KEY": "k-0123456789", "ZHIPU_API_KEY": "k-0123456789"})
answers = []
for text in json.load(sys.stdin):
    data = encode_text(text)
    route = node.route(text)
    answers.append([int(lib.th_detect_language_packed(data, len(data))), int(lib.th_estimate_tokens(data, len(data))),
                    list(route.providers), route.reason])
print(json.dumps({"built": int(lib.th_cpu_level_built()), "answers": answers}))
"""


def _texts() -> list[str]:
    sentences = [line.split("\t", 1)[1] for line in HELD_OUT.read_text(encoding="utf-8").splitlines()]
    # Prefixes of every length up to 70 bytes' worth, so that each build's block tails are hit.
    texts = sentences + [sentence[:length] for sentence in sentences[::7] for length in range(1, 40)]
    pieces = ["a", " ", "中", "日本", "の", "한", "я", "é", "λ", "न", "ก", "😀", "，", "\ud800", "\0", "Ａ"]
    generator = random.Random(0x5EED)
    for _ in range(2_000):
        texts.append("".join(generator.choice(pieces) for _ in range(generator.randrange(0, 90))))
    return texts


def _answers(texts: list[str], cpu: str) -> dict[str, object]:
    environment = {**os.environ, _native.CPU_VARIABLE: cpu}
    environment.pop("TRINITY_HYBRID_LIBRARY", None)
    completed = subprocess.run(
        [sys.executable, "-c", ANSWERS_PROGRAM],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def _installed_with_both_builds() -> bool:
    path = _native.loaded_library_path()
    baseline = path.parent / _native.library_file_name()
    return path.parent.name == "_lib" and (baseline.parent / _native.variant_file_name(baseline.name)).is_file()


def test_an_x86_64_package_holds_both_builds() -> None:
    if not IS_X86_64:
        pytest.skip("only x86-64 packages carry a second build")
    if "TRINITY_HYBRID_LIBRARY" in os.environ:
        pytest.skip("TRINITY_HYBRID_LIBRARY chooses the library")
    assert _installed_with_both_builds()


def test_the_build_for_this_cpu_is_loaded() -> None:
    if "TRINITY_HYBRID_LIBRARY" in os.environ or not _installed_with_both_builds():
        pytest.skip("needs the installed package with both builds")
    _, lib = _native.load()
    machine_level = int(lib.th_cpu_level())
    built_level = int(lib.th_cpu_level_built())
    name = _native.loaded_library_path().name
    if os.environ.get(_native.CPU_VARIABLE) == "baseline" or machine_level < _native.CPU_LEVEL_X86_64_V3:
        assert (name, built_level) == (_native.library_file_name(), 0)
    else:
        assert (name, built_level) == (_native.variant_file_name(_native.library_file_name()), 3)


def test_both_builds_give_the_same_answers() -> None:
    if "TRINITY_HYBRID_LIBRARY" in os.environ or not _installed_with_both_builds():
        pytest.skip("needs the installed package with both builds")
    _, lib = _native.load()
    if int(lib.th_cpu_level()) < _native.CPU_LEVEL_X86_64_V3:
        pytest.skip("this machine cannot run the x86-64-v3 build")
    texts = _texts()
    baseline = _answers(texts, "baseline")
    chosen = _answers(texts, "auto")
    assert (baseline["built"], chosen["built"]) == (0, 3)
    different = [
        (text, one, other)
        for text, one, other in zip(texts, baseline["answers"], chosen["answers"])  # type: ignore[call-overload]
        if one != other
    ]
    assert different == []


def test_an_unknown_cpu_choice_is_refused() -> None:
    environment = {**os.environ, _native.CPU_VARIABLE: "avx512"}
    completed = subprocess.run(
        [sys.executable, "-c", "import trinity_hybrid; trinity_hybrid.detect_language('hi')"],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
    )
    assert completed.returncode != 0
    assert "NativeLibraryError" in completed.stderr
    assert "TRINITY_HYBRID_CPU must be one of auto, baseline, not 'avx512'" in completed.stderr
