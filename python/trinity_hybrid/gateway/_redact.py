"""Keys out of what the gateway writes down: every string of a request log record passes here.

Two nets, both applied to every string:

1. **Known secrets**: the provider keys and gateway keys this process holds (``secrets_of``
   collects them from the environment; the app adds the node's keys and any created later). A
   secret, and any piece of it at least ``FRAGMENT_CHARS_MIN`` long (an upstream error may echo
   a truncated key), becomes the secret's mask, ``key[:8]***`` (``trinity_hybrid.mask_key``),
   the only form in which the library ever shows a key.
2. **Key shapes**: keys the process does not hold (another team's key echoed back, a virtual
   key's secret, which is only kept as a digest) caught by their well-known prefixes, and any
   ``Bearer …`` / ``api_key=…`` / ``?key=…`` value.

This runs on the request log's writer threads, never on a request's path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .._secret import mask_key

__all__ = ["FRAGMENT_CHARS_MIN", "SECRET_CHARS_MIN", "Redactor", "secrets_of"]

# A piece of a known secret this long is masked wherever it appears (the providers' error
# scrubber uses the same width). A mask shows at most 8 characters, fewer than this.
FRAGMENT_CHARS_MIN = 12
# Shorter configured values are not secrets worth the name, and masking every occurrence of a
# two-letter "key" would garble every record.
SECRET_CHARS_MIN = 4
# The shortest text the shape nets can match in ("key=" and 8 characters; "sk-" and 16).
SHAPE_CHARS_MIN = 12
# Masked strings remembered per redactor: values up to this long, this many of them.
CACHED_CHARS_MAX = 64
CACHE_ENTRIES_MAX = 4096
# The sample that rules out a run of characters quickly (``Redactor._mask_known``).
GRAM_CHARS = 6
# Variables whose values are credentials: provider keys (OPENAI_API_KEY, OPENAI_API_KEYS=k1,k2),
# gateway keys (TRINITY_API_KEYS), admin keys, tokens, passwords.
_SECRET_VARIABLE = re.compile(r"(?:(?:^|_)KEYS?|TOKENS?|SECRETS?|PASSWORD|PASSWD)$", re.IGNORECASE)
# Keys by shape. No word boundary before a prefix: "xsk-…" must not hide a key from the net.
_KEY_SHAPES = re.compile(
    r"(?:sk|rk|pk)-[A-Za-z0-9_\-]{16,}"  # OpenAI, Anthropic (sk-ant-), DeepSeek, Kimi, …
    r"|tk-[A-Za-z0-9_\-]{16,}"  # the gateway's virtual keys
    r"|AIza[A-Za-z0-9_\-]{30,}"  # Google
    r"|gsk_[A-Za-z0-9]{20,}"  # Groq
    r"|nvapi-[A-Za-z0-9_\-]{20,}"  # NVIDIA
    r"|xai-[A-Za-z0-9]{20,}"  # xAI
)
# A credential by the field that carries it: only the value (group 2) is masked.
_CREDENTIAL_FIELDS = re.compile(
    r"(bearer\s+|(?:api[_-]?key|x-goog-api-key|access_token|token|key|password)[\"']?\s*[:=]\s*[\"']?)"
    r"([^\s\"',;&}]{8,})",
    re.IGNORECASE,
)
_CREDENTIAL_WORDS = ("bearer", "key", "token", "password")
_PLAIN = frozenset({int, float, bool, type(None)})


def secrets_of(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every value of a credential variable (``*_KEY``, ``*_KEYS``, ``*TOKEN``, ``*SECRET``,
    ``*PASSWORD``: ``PGPASSWORD`` too), comma-separated lists split."""
    found: list[str] = []
    for name, value in environ.items():
        if _SECRET_VARIABLE.search(name):
            found.extend(part.strip() for part in value.split(","))
    return tuple(dict.fromkeys(part for part in found if len(part) >= SECRET_CHARS_MIN))


class Redactor:
    """Masks keys in strings and in JSON-like documents (dicts, lists, tuples of them)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Each piece (the secret itself when shorter than a fragment) -> the secret it is of.
        self._owner: dict[str, str] = {}
        self._masks: dict[str, str] = {}
        for secret in secrets:
            self._add(secret)
        self._widths = sorted({len(piece) for piece in self._owner}, reverse=True)
        # A piece of a secret lies within a run of the secrets' own characters at least as
        # long as the shortest piece: only such runs are looked into (words of prose are not).
        alphabet = "".join(sorted({character for secret in self._masks for character in secret}))
        self._runs = re.compile(f"[{re.escape(alphabet)}]{{{self._widths[-1]},}}") if self._widths else None
        # Any piece of a secret, however placed in a run, covers a gram (``GRAM_CHARS`` long) at
        # one of the run's positions taken every ``_step``: a run none of whose grams there is
        # in a secret holds no piece, and costs a few set lookups.
        self._gram = min(GRAM_CHARS, self._widths[-1]) if self._widths else 0
        self._step = self._widths[-1] - self._gram + 1 if self._widths else 1
        self._grams = {
            secret[start : start + self._gram]
            for secret in self._masks
            for start in range(len(secret) - self._gram + 1)
        }
        # Field values repeat (providers, models, outcomes): short ones are masked once.
        self._cache: dict[str, str] = {}

    def with_secret(self, secret: str) -> Redactor:
        """A new redactor that also knows ``secret`` (this one is left as it is, so a writer
        thread that holds it never sees a half-built table)."""
        return Redactor((*self._masks, secret))

    @property
    def secrets_count(self) -> int:
        return len(self._masks)

    def text(self, text: str) -> str:
        if len(text) > CACHED_CHARS_MAX:
            return self._masked(text)
        masked = self._cache.get(text)
        if masked is None:
            if len(self._cache) >= CACHE_ENTRIES_MAX:
                self._cache.clear()
            masked = self._cache[text] = self._masked(text)
        return masked

    def document(self, value: Any) -> Any:
        """``value`` with every string in it passed through ``text``; the keys of dicts are
        left as they are (a record's keys are its field names)."""
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is dict:
            # Numbers, booleans and None (most of a record) are passed over without a call.
            return {
                key: self.text(item) if type(item) is str else item if type(item) in _PLAIN else self.document(item)
                for key, item in value.items()
            }
        if kind is list or kind is tuple:
            return [self.document(item) for item in value]
        if isinstance(value, str):  # a str subclass
            return self.text(str(value))
        return value

    def _masked(self, text: str) -> str:
        if self._runs is not None:
            text = self._mask_known(text)
        if len(text) < SHAPE_CHARS_MIN:  # too short to hold a key by shape or field
            return text
        text = _KEY_SHAPES.sub(lambda match: mask_key(match.group(0)), text)
        lowered = text.lower()
        if not any(word in lowered for word in _CREDENTIAL_WORDS):
            return text
        return _CREDENTIAL_FIELDS.sub(lambda match: match.group(1) + mask_key(match.group(2)), text)

    def _add(self, secret: str) -> None:
        if len(secret) < SECRET_CHARS_MIN or secret in self._masks:
            return
        self._masks[secret] = mask_key(secret)
        width = min(FRAGMENT_CHARS_MIN, len(secret))
        for start in range(len(secret) - width + 1):
            self._owner.setdefault(secret[start : start + width], secret)

    def _mask_known(self, text: str) -> str:
        assert self._runs is not None
        out: list[str] = []
        position = 0
        for run in self._runs.finditer(text):
            start, run_end = run.span()
            grams, gram = self._grams, self._gram
            if not any(text[at : at + gram] in grams for at in range(start, run_end - gram + 1, self._step)):
                continue
            while start < run_end:
                found = self._piece_at(text, start, run_end)
                if found is None:
                    start += 1
                    continue
                end, secret = found
                # Grow the piece while it is still part of the same secret.
                while end < run_end and text[start : end + 1] in secret:
                    end += 1
                out.append(text[position:start])
                out.append(self._masks[secret])
                position = start = end
        out.append(text[position:])
        return "".join(out)

    def _piece_at(self, text: str, start: int, run_end: int) -> tuple[int, str] | None:
        for width in self._widths:  # the longest first: a whole short secret is not preferred
            if start + width <= run_end:
                secret = self._owner.get(text[start : start + width])
                if secret is not None:
                    return start + width, secret
        return None
