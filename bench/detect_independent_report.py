"""bench/results/detect_independent.md from the document bench/bench_detect_independent.py writes:
the sources, the suspected label noise, macro accuracy per source and variant (every sample, and
without the suspected noise), speed, our commonest confusions, then per-language tables."""

from __future__ import annotations

from bench_detect import VARIANT_TITLES, VARIANTS
from measure import LANGUAGES_OURS

OURS = "trinity_hybrid"
# Not a detector: the column of samples that some detector got right (bench_detect_independent).
ANY_DETECTOR = "any_detector"
# Every source's samples together; those of the sources of sentences (all but django_ui's UI strings).
POOLS = ("pooled", "pooled_sentences")


def _header(names: list[str], first: list[str]) -> list[str]:
    columns = [*first, *names]
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _macro_table(rows: dict, sources: list[str], names: list[str]) -> list[str]:
    lines = _header(names, ["source", "variant"])
    detectors = [name for name in names if name != ANY_DETECTOR]
    for source in [*sources, *POOLS]:
        for v in VARIANTS:
            cells = []
            for name in names:
                macro = 100 * rows[name][source][v]["macro"]
                best = max(rows[n][source][v]["macro"] for n in detectors)
                cells.append(f"**{macro:.2f}**" if rows[name][source][v]["macro"] == best else f"{macro:.2f}")
            lines.append(f"| {source} | {VARIANT_TITLES[v]} | " + " | ".join(cells) + " |")
    return lines


def _language_table(rows: dict, source: str, v: str, names: list[str]) -> list[str]:
    lines = _header(names, ["language", "samples"])
    lines[0] = lines[0][:-1] + "| ours und |"
    lines[1] += "---|"
    per_language = rows[OURS][source][v]["per_language"]
    for language in LANGUAGES_OURS:
        row = per_language.get(language)
        if row is None:
            continue
        cells = [f"{100 * rows[n][source][v]['per_language'][language]['accuracy']:.1f}" for n in names]
        lines.append(f"| {language} | {row['samples']} | " + " | ".join(cells) + f" | {100 * row['und']:.1f} |")
    return lines


def markdown(document: dict) -> str:
    rows = document["accuracy"]
    clean = document["accuracy_without_suspected_noise"]
    sources = document["sources"]
    names = list(rows)
    minimum = document["language_samples_min"]
    lines = [
        "# Language detection on independent sources (issue 18)",
        "",
        "Written by `bench/bench_detect_independent.py` (its docstring has the commands: `python bench/run.py",
        "--only detect_independent`); every detector measured in the same run, on the same samples. Accuracy",
        f"in %; `und` counts as wrong. Macro: languages with at least {minimum} samples in that source; pooled:",
        "every source's samples per language together; pooled_sentences: the same over the sources of",
        "sentences (all but django_ui, whose samples are UI strings of one to three words mostly). Best of",
        "a row in bold. `any_detector` is no detector: a sample counts as right there when any detector",
        "names its language, which bounds what these samples let a detector reach. No sample is from a source",
        "the model was trained on (`scripts/train_language_model.py`: dataset-build's essays, wordfreq's",
        "word lists, a few lines of everyday words); samples equal to a training line are dropped.",
        "",
        "| source | domain | package | languages (samples) |",
        "|---|---|---|---|",
    ]
    for source, entry in sources.items():
        counts = ", ".join(f"{language} {n}" for language, n in entry["counts"].items())
        lines.append(f"| {source} | {entry['domain']} | {entry['package']} | {counts} |")
    voters = ", ".join(document["noise_voters"])
    lines += [
        "",
        "## Label noise in the sources",
        "",
        f"A sample is *suspected noise* when {voters} all call its whole text one and the same other",
        "language (ours takes no part in the vote). Such samples count as errors for every detector in",
        "the first table and are left out of the second.",
        "",
        "| source | suspected noise | samples | share | commonest (label->voted) |",
        "|---|---|---|---|---|",
    ]
    for source, entry in document["suspected_noise"].items():
        share = 100 * entry["suspected"] / entry["samples"]
        commonest = ", ".join(f"{pair} {n}" for pair, n in entry["commonest"])
        lines.append(f"| {source} | {entry['suspected']} | {entry['samples']} | {share:.1f} % | {commonest} |")
    lines += ["", "## Macro accuracy, every sample", "", *_macro_table(rows, list(sources), names)]
    lines += ["", "## Macro accuracy without the suspected noise", "", *_macro_table(clean, list(sources), names)]
    lines += [
        "",
        f"## Speed: microseconds per call from Python ({document['speed_sentences']} whole samples, every source)",
        "",
        "| detector | median µs | min µs |",
        "|---|---|---|",
    ]
    for name, entry in document["speed"].items():
        lines.append(f"| {name} | {entry['median_ns'] / 1e3:.2f} | {entry['min_ns'] / 1e3:.2f} |")
    confident = document["confident"]
    lines += [
        "",
        f"## Sure and wrong: answers given with confidence {confident:g} or more (every source, suspected noise left out)",
        "",
        "Each detector's own measure of how sure it is: our confidence, lingua's confidence value of its",
        "answer, py3langid's probability normalised over our 28 languages, fastText's score, CLD2's",
        "percent of the text in its language (0 when CLD2 calls the answer unreliable). Per variant: the",
        f"share of samples answered with at least {confident:g}, then the share of those answers that are",
        "wrong. Issue 18 asks for no confident wrong answer on short text: the second figure.",
        "",
        "| detector | " + " | ".join(f"{VARIANT_TITLES[v]}: answered / wrong" for v in VARIANTS) + " |",
        "|---|" + "---|" * len(VARIANTS),
    ]
    for name, per_variant in document["confident_answers"].items():
        cells = [f"{100 * per_variant[v]['answered']:.1f} % / {100 * per_variant[v]['wrong']:.2f} %" for v in VARIANTS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Our commonest confusions (every source, suspected noise left out)", ""]
    lines += ["| variant | expected -> answered (count) |", "|---|---|"]
    for v in VARIANTS:
        pairs = ", ".join(f"{a}->{b} {n}" for a, b, n in document["confusions_ours"][v])
        lines.append(f"| {VARIANT_TITLES[v]} | {pairs} |")
    for source in [*sources, *POOLS]:
        for v in VARIANTS:
            lines += ["", f"## {source}: {VARIANT_TITLES[v]} (every sample)", ""]
            lines += _language_table(rows, source, v, names)
    versions = ", ".join(f"{name} {v}" for name, v in document["versions"].items())
    lines += ["", f"Versions: {versions}."]
    return "\n".join(lines) + "\n"
