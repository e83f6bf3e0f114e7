"""Token estimation: `trinity_hybrid.estimate_tokens` against tiktoken's cl100k_base count, per
language (the primary five, code, and the other languages for information): the mean ratio
estimate / tiktoken, the share of paragraphs within ±15 %, and microseconds per call of each.

    python bench/bench_tokens.py [--quick]   ->  bench/results/tokens.json
"""

from __future__ import annotations

import statistics
from importlib.metadata import version

import trinity_hybrid
from measure import arguments, compare_ns, over, write_json
from token_corpus import LANGUAGES_PRIMARY, cl100k_encoding, load_corpus

TOLERANCE = 0.15
PARAGRAPHS_QUICK = 40
GROUPS_PRIMARY = (*LANGUAGES_PRIMARY, "code_python", "code_zig")


def error_row(paragraphs: list[str], estimates: list[int], references: list[int]) -> dict[str, object]:
    ratios = [estimate / reference for estimate, reference in zip(estimates, references)]
    return {
        "paragraphs": len(ratios),
        "ratio_mean": statistics.fmean(ratios),
        "ratio_median": statistics.median(ratios),
        "ratio_total": sum(estimates) / sum(references),
        "within_tolerance": sum(abs(r - 1) <= TOLERANCE for r in ratios) / len(ratios),
        "tokens_tiktoken": sum(references),
        "bytes": sum(len(p.encode("utf-8")) for p in paragraphs),
    }


def main() -> None:
    options = arguments(__doc__.splitlines()[0])
    corpus = load_corpus()
    encoding = cl100k_encoding()

    def tiktoken_count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    rows: dict[str, dict[str, object]] = {}
    for group, paragraphs in corpus.items():
        if options.quick:
            paragraphs = paragraphs[:PARAGRAPHS_QUICK]
        references = [tiktoken_count(p) for p in paragraphs]
        estimates = [trinity_hybrid.estimate_tokens(p) for p in paragraphs]
        row = error_row(paragraphs, estimates, references)
        row["primary"] = group in GROUPS_PRIMARY
        timed = compare_ns(
            {
                "estimate": over(trinity_hybrid.estimate_tokens, paragraphs),
                "tiktoken": over(tiktoken_count, paragraphs),
            },
            quick=options.quick,
        )
        row["estimate_per_call"] = timed["estimate"]
        row["tiktoken_per_call"] = timed["tiktoken"]
        rows[group] = row
    write_json(
        "tokens",
        {
            "tolerance": TOLERANCE,
            "reference": "tiktoken cl100k_base, len(encode(text, disallowed_special=()))",
            "groups": rows,
            "versions": {name: version(name) for name in ("trinity-hybrid", "tiktoken", "bpe-openai", "dataset-build")},
        },
    )


if __name__ == "__main__":
    main()
