"""Language detection: speed and accuracy of `trinity_hybrid.detect_language` beside pycld2 and
lingua (restricted to our 28 languages, high and low accuracy mode), on the same sentences.

Sentences come from the dataset-build paragraphs (bench/token_corpus.py), split at sentence
punctuation, a fixed random sample per language; the detector is not tuned on this corpus.
Accuracy is also measured on short prefixes of the same sentences: the first 2 and 4 words, or
the first 4 and 8 characters for languages written without spaces between words.

    python bench/bench_detect.py [--quick]   ->  bench/results/detect.json
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from importlib.metadata import version

import native
import trinity_hybrid
from measure import LANGUAGES_OURS, arguments, compare_ns, over, summarize, write_json
from token_corpus import LANGUAGE_FOLDERS, LANGUAGES_PRIMARY, load_corpus

LANGUAGES_BY_CHARACTER = frozenset(("zh", "ja", "ko", "th"))
SENTENCES_PER_LANGUAGE = 200
SENTENCES_PER_LANGUAGE_QUICK = 40
SENTENCE_CHARS_MIN = 12
SENTENCE_CHARS_MAX = 400
SEED = 20251122
NATIVE_REPETITIONS = 21

VARIANTS = ("sentence", "prefix_short", "prefix_long")
VARIANT_TITLES = {
    "sentence": "whole sentence",
    "prefix_short": "first 2 words (zh/ja/ko/th: 4 chars)",
    "prefix_long": "first 4 words (zh/ja/ko/th: 8 chars)",
}

# Sentence ends: Latin and Cyrillic punctuation followed by a space, and the CJK, Devanagari and
# Arabic full stops, after which no space comes.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；।؟])")


def split_sentences(paragraph: str, language: str) -> list[str]:
    pieces = _SENTENCE_END.split(paragraph)
    if language == "th":
        # Thai marks sentence ends with a space only.
        pieces = [piece for chunk in pieces for piece in chunk.split(" ")]
    sentences = [" ".join(piece.split()) for piece in pieces]
    return [s for s in sentences if SENTENCE_CHARS_MIN <= len(s) <= SENTENCE_CHARS_MAX]


def sample_sentences(paragraphs: list[str], language: str, count: int) -> list[str]:
    sentences = [s for paragraph in paragraphs for s in split_sentences(paragraph, language)]
    sentences = sorted(set(sentences))
    return random.Random(f"{SEED}-{language}").sample(sentences, min(count, len(sentences)))


def variant(sentence: str, language: str, name: str) -> str:
    if name == "sentence":
        return sentence
    long = name == "prefix_long"
    if language in LANGUAGES_BY_CHARACTER:
        return sentence[: 8 if long else 4]
    return " ".join(sentence.split()[: 4 if long else 2])


def _lingua_detector(high_accuracy: bool):  # -> lingua.LanguageDetector
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGUAGES_OURS]
    builder = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models()
    if not high_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def _pycld2_code(text: str) -> str:
    import pycld2

    try:
        code = pycld2.detect(text)[2][0][1]
    except pycld2.error:
        return "und"
    # CLD2 writes Hebrew with its old code and traditional Chinese as zh-Hant.
    return {"iw": "he", "un": "und"}.get(code, code.split("-")[0])


def detectors() -> dict[str, tuple[Callable[[str], object], Callable[[str], str]]]:
    """Name -> (the call timed, as a user makes it; the same call returning a language code)."""
    import pycld2

    lingua_high = _lingua_detector(high_accuracy=True)
    lingua_low = _lingua_detector(high_accuracy=False)

    def lingua_code(detector):  # -> Callable[[str], str]
        def code(text: str) -> str:
            found = detector.detect_language_of(text)
            return "und" if found is None else found.iso_code_639_1.name.lower()

        return code

    return {
        "trinity_hybrid": (trinity_hybrid.detect_language, lambda text: trinity_hybrid.detect_language(text).language),
        "pycld2": (pycld2.detect, _pycld2_code),
        "lingua_high": (lingua_high.detect_language_of, lingua_code(lingua_high)),
        "lingua_low": (lingua_low.detect_language_of, lingua_code(lingua_low)),
    }


def accuracy(code_of: Callable[[str], str], sentences: dict[str, list[str]], variant_name: str) -> dict[str, float]:
    shares: dict[str, float] = {}
    for language, items in sentences.items():
        correct = sum(code_of(variant(s, language, variant_name)) == language for s in items)
        shares[language] = correct / len(items)
    return shares


def speed(
    calls: dict[str, Callable[[str], object]], sentences: dict[str, list[str]], quick: bool
) -> dict[str, dict[str, dict[str, float]]]:
    """Detector -> language (and "all") -> ns per call; the detectors interleaved per group. The
    loop floor (the builtin ``len`` in the same loop) is timed beside them as "loop_floor"."""
    groups = dict(sentences)
    groups["all"] = [s for language in LANGUAGES_PRIMARY for s in sentences[language]]
    rows: dict[str, dict[str, dict[str, float]]] = {name: {} for name in [*calls, "loop_floor"]}
    for group, inputs in groups.items():
        passes = {name: over(call, inputs) for name, call in calls.items()}
        passes["loop_floor"] = over(len, inputs)
        for name, result in compare_ns(passes, quick=quick).items():
            rows[name][group] = result
    return rows


def native_speed(sentences: dict[str, list[str]], quick: bool) -> dict[str, dict[str, float]]:
    lines = [(language, s) for language in LANGUAGES_PRIMARY for s in sentences[language]]
    lines += [("all", text) for _, text in lines]
    result = native.run([], lines, route_iterations=1, repetitions=5 if quick else NATIVE_REPETITIONS)
    return {label: summarize(entry["ns_per_call"]) for label, entry in result["detect"].items()}


def main() -> None:
    options = arguments(__doc__.splitlines()[0])
    count = SENTENCES_PER_LANGUAGE_QUICK if options.quick else SENTENCES_PER_LANGUAGE
    corpus = load_corpus()
    sentences = {language: sample_sentences(corpus[language], language, count) for language in LANGUAGE_FOLDERS}
    primary = {language: sentences[language] for language in LANGUAGES_PRIMARY}
    found = detectors()

    speed_rows = speed({name: call for name, (call, _) in found.items()}, primary, options.quick)
    loop_floor = speed_rows.pop("loop_floor")["all"]
    speed_rows["trinity_hybrid_native"] = native_speed(primary, options.quick)
    accuracy_rows = {
        name: {variant_name: accuracy(code_of, sentences, variant_name) for variant_name in VARIANTS}
        for name, (_, code_of) in found.items()
    }
    write_json(
        "detect",
        {
            "sentences_per_language": {language: len(items) for language, items in sentences.items()},
            "seed": SEED,
            "speed_languages": list(LANGUAGES_PRIMARY),
            "speed": speed_rows,
            "loop_floor": loop_floor,
            "variants": VARIANT_TITLES,
            "accuracy": accuracy_rows,
            "examples": {language: primary[language][0] for language in LANGUAGES_PRIMARY},
            "versions": {name: version(name) for name in ("trinity-hybrid", "pycld2", "lingua-language-detector")},
        },
    )


if __name__ == "__main__":
    main()
