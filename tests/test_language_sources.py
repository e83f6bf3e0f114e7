"""The cleaning of bench/independent_sources.py (issue 18): what it keeps of a gettext catalogue, a
fortune cookie and a sample set, on text written here (no corpus package needed)."""

from __future__ import annotations

import importlib.util
import sys
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
