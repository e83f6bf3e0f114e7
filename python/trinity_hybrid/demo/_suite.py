"""The demo's 24 prompts: what each asks, in which language it expects its answer, and the answer
when one is known.

The two long-context prompts are generated at run time, deterministically from a seed: a report
of filler sentences, long enough to exceed 128K tokens by our estimator, with one fact hidden at
a fixed depth and a question about it at the end. Nothing large is stored in the package.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .._text import estimate_tokens

# The long-context rule fires above 128K tokens; the documents are made comfortably longer, and
# short enough (one batch more at most, about 165K) that a 200K window (Anthropic, Zhipu) holds them.
LONG_CONTEXT_TOKENS_MIN = 140_000


@dataclass(frozen=True, slots=True)
class DemoPrompt:
    """One prompt of the suite. ``answer_language`` is the language the answer should be in (None:
    not checked, e.g. for code); ``answers`` are the accepted forms of a known answer (empty: no
    known answer)."""

    category: str
    prompt: str
    answer_language: str | None
    answers: tuple[str, ...] = ()
    seed: int | None = None  # set for generated prompts: how to make them again

    @property
    def prompt_shown(self) -> str:
        """The prompt as a report shows it: a generated document is summarised, not copied."""
        if self.seed is None:
            return self.prompt
        question = self.prompt.rsplit("\n\n", 1)[-1]
        return f"[generated report, {len(self.prompt):,} characters, seed {self.seed}] {question}"


# fmt: off
_FIXED: tuple[DemoPrompt, ...] = (
    DemoPrompt("Math", "What is 17 multiplied by 23? Give the number.", "en", ("391",)),
    DemoPrompt("Math", "Solve for x: 3x + 7 = 22.", "en", ("5",)),
    DemoPrompt("Math", "A pen costs 4 dollars. How much do 12 pens cost?", "en", ("48",)),
    DemoPrompt("Code", "Write a Python function that returns the factorial of n.", None, ("def",)),
    DemoPrompt("Code", "Write a SQL query that selects every row of the table users whose age is over 30.", None,
               ("select",)),
    DemoPrompt("Science", "Explain in two sentences why the sky is blue.", "en"),
    DemoPrompt("Logic", "All cats are animals. Tom is a cat. Is Tom an animal? Answer yes or no, then explain.", "en",
               ("yes",)),
    DemoPrompt("Factual", "What is the capital of Australia?", "en", ("Canberra",)),
    DemoPrompt("Explain", "Explain what a hash table is to a beginner.", "en"),
    DemoPrompt("Creative", "Write a four-line poem about the sea.", "en"),
    DemoPrompt("Chinese", "请用中文解释量子计算的基本原理。", "zh"),
    DemoPrompt("Chinese", "中国的首都是哪个城市？", "zh", ("北京",)),
    DemoPrompt("Chinese", "三加五等于多少？", "zh", ("8", "八")),
    DemoPrompt("Chinese", "请写一首关于春天的短诗。", "zh"),
    DemoPrompt("Chinese", "什么是机器学习？请简单介绍一下。", "zh"),
    DemoPrompt("Russian", "Объясните, как работает фотосинтез.", "ru"),
    DemoPrompt("Russian", "Какой город является столицей России?", "ru", ("Москв",)),
    DemoPrompt("Russian", "Напишите короткое стихотворение о зиме.", "ru"),
    DemoPrompt("Japanese", "日本の首都はどこですか？", "ja", ("東京", "とうきょう")),
    DemoPrompt("Japanese", "人工知能とは何ですか？簡単に説明してください。", "ja"),
    DemoPrompt("Korean", "한국의 수도는 어디입니까?", "ko", ("서울",)),
    DemoPrompt("Korean", "인공지능의 장점은 무엇입니까?", "ko"),
)
# fmt: on

_SUBJECTS = (
    "The committee", "The northern depot", "Our auditor", "The logistics team", "The regional office",
    "The night shift", "The supplier", "The archive", "The harbour master", "The board",
)  # fmt: skip
_VERBS = (
    "reviewed", "postponed", "approved", "summarised", "questioned", "recorded", "revised", "inspected",
    "forwarded", "compared",
)  # fmt: skip
_OBJECTS = (
    "the quarterly figures", "the maintenance schedule", "the freight invoices", "the staffing plan",
    "the safety checklist", "the fuel estimates", "the loading times", "the storage contracts",
    "the customer complaints", "the inventory counts",
)  # fmt: skip
_TAILS = (
    "before the deadline.", "without further comment.", "after a long discussion.", "for the second time.",
    "at the request of the director.", "in the usual way.", "with minor corrections.", "despite the delays.",
)  # fmt: skip
SENTENCES_PER_PARAGRAPH = 12
# Paragraphs are added in batches and the estimate taken once per batch (a few MB in all).
PARAGRAPHS_PER_BATCH = 200


@dataclass(frozen=True, slots=True)
class _Needle:
    seed: int
    fact: str
    question: str
    answers: tuple[str, ...]
    depth: float  # where in the report the fact sits, as a share of its paragraphs


_NEEDLES = (
    _Needle(1, "The access code of the western warehouse is 7316.",
            "What is the access code of the western warehouse? Answer with the number.", ("7316",), 0.37),
    _Needle(2, "The expedition of 1911 set out from the town of Ushuaia.",
            "From which town did the expedition of 1911 set out?", ("Ushuaia",), 0.81),
)  # fmt: skip


def _paragraph(generator: random.Random) -> str:
    return " ".join(
        f"{generator.choice(_SUBJECTS)} {generator.choice(_VERBS)} {generator.choice(_OBJECTS)} {generator.choice(_TAILS)}"
        for _ in range(SENTENCES_PER_PARAGRAPH)
    )


def long_context_prompt(needle: _Needle, tokens_min: int = LONG_CONTEXT_TOKENS_MIN) -> DemoPrompt:
    """A report of at least ``tokens_min`` estimated tokens with one fact in it, then a question
    about that fact. The same seed gives the same text on every machine."""
    generator = random.Random(needle.seed)
    paragraphs: list[str] = []
    tokens = 0
    while tokens < tokens_min:
        batch = [_paragraph(generator) for _ in range(PARAGRAPHS_PER_BATCH)]
        paragraphs.extend(batch)
        tokens += estimate_tokens("\n\n".join(batch))
    paragraphs.insert(int(len(paragraphs) * needle.depth), needle.fact)
    text = "Read the following operations report, then answer the question at the end.\n\n"
    text += "\n\n".join(paragraphs) + "\n\n" + needle.question
    return DemoPrompt("Long context", text, "en", needle.answers, seed=needle.seed)


CATEGORIES = (*dict.fromkeys(prompt.category for prompt in _FIXED), "Long context")


def production_suite(categories: frozenset[str] | None = None) -> tuple[DemoPrompt, ...]:
    """The 24 prompts in the order the demo runs them, or those of ``categories`` only (the
    long-context documents are generated only when their category is asked for)."""
    fixed = tuple(prompt for prompt in _FIXED if categories is None or prompt.category in categories)
    if categories is not None and "Long context" not in categories:
        return fixed
    return (*fixed, *(long_context_prompt(needle) for needle in _NEEDLES))
