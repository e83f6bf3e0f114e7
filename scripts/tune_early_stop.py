"""Tunes the early stop of the n-gram scoring (zig/language_model.zig `decisive_bytes_min`,
`decisive_margin_nats`) on sentences of the TRAINING split: never on the held-out sentences that
the tests measure. For each (bytes, margin) pair it prints the accuracy on whole sentences and on
their first 4 words (Latin and Cyrillic, the languages the model decides) and the table lookups
per sentence, the cost that stopping saves. It simulates the native scoring word by word, as
scripts/train_language_model.py's `classify` does, with the stop added.

    python scripts/tune_early_stop.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import language_features
import train_language_model as trainer

SENTENCES_PER_LANGUAGE = 300
BYTES_MIN = (16, 32)
MARGINS_NATS = (70, 90, 120, 150, 200, 250, 300)


def word_steps(text: str, alphabet: str, model: dict[int, list[int]]) -> list[tuple[int, list[int], int]]:
    """Per word: the byte offset after the character that ends it (where the native code checks
    the lead), the summed costs of its features, and its feature count."""
    test = language_features.LETTER_TEST[alphabet]
    lanes = len(trainer.ALPHABETS[alphabet])
    steps: list[tuple[int, list[int], int]] = []
    word: list[int] = []
    offset = 0

    # Whole words count as the native code adds them (the trainer's WORD_COST_SHIFT).
    word_factor = 1 << trainer.WORD_COST_SHIFT.get(alphabet, 0)

    def close(at: int) -> None:
        costs = [0] * lanes
        features = list(language_features.word_features_kinds(word))
        for key, kind in features:
            factor = word_factor if kind == language_features.WHOLE_WORD else 1
            for lane, cost in enumerate(model.get(key, ())):
                costs[lane] += cost * factor
        steps.append((at, costs, len(features)))

    for character in text:
        offset += len(character.encode())
        c = ord(character)
        if test(c):
            word.append(language_features.lowercase(c))
        elif word:
            close(offset)
            word = []
    if word:
        close(offset)
    return steps


def decide(steps: list[tuple[int, list[int], int]], bytes_min: int, margin_cost: int) -> tuple[int, int]:
    """The winning lane and the features looked up, stopping as the native scoring does."""
    totals = [0] * len(steps[0][1]) if steps else [0]
    looked_up = 0
    for at, costs, features in steps:
        totals = [a + b for a, b in zip(totals, costs)]
        looked_up += features
        ranked = sorted(totals)
        if at >= bytes_min and len(ranked) > 1 and ranked[1] - ranked[0] >= margin_cost:
            break
    return min(range(len(totals)), key=lambda lane: totals[lane]), looked_up


def main() -> None:
    training, _ = trainer.split_corpus()
    rows: dict[tuple[int, int, str], list[float]] = {}
    for alphabet in ("latin", "cyrillic"):
        budget = int(trainer.LOAD_MAX * (1 << trainer.SLOTS_LOG2[alphabet]))
        words_log2 = trainer.WORD_SLOTS_LOG2.get(alphabet)
        word_budget = int(trainer.LOAD_MAX * (1 << words_log2)) if words_log2 else 0
        costs, word_costs = trainer.train_alphabet(alphabet, training, budget, word_budget)
        model = {**costs, **word_costs}
        for lane, language in enumerate(trainer.ALPHABETS[alphabet]):
            sentences = sorted({s for p in training[language] for s in trainer.split_sentences(p, language)})
            sample = random.Random(f"{trainer.SEED}-tune-{language}").sample(
                sentences, min(SENTENCES_PER_LANGUAGE, len(sentences))
            )
            for slice_name, words_count in (("sentence", 10_000), ("4 words", 4)):
                prepared = [word_steps(trainer.prefix(s, language, words_count), alphabet, model) for s in sample]
                for bytes_min in BYTES_MIN:
                    for margin in MARGINS_NATS:
                        results = [decide(steps, bytes_min, margin * trainer.COST_PER_NAT) for steps in prepared]
                        right = sum(lane_won == lane for lane_won, _ in results) / len(results)
                        lookups = sum(n for _, n in results) / len(results)
                        rows.setdefault((bytes_min, margin, slice_name), []).append(right)
                        rows.setdefault((bytes_min, margin, slice_name + " lookups"), []).append(lookups)
    print("bytes margin  sentence%  4words%  lookups/sentence")

    def mean(bytes_min: int, margin: int, name: str) -> float:
        values = rows[(bytes_min, margin, name)]
        return sum(values) / len(values)

    for bytes_min in BYTES_MIN:
        for margin in MARGINS_NATS:
            print(
                f"{bytes_min:5} {margin:6} {100 * mean(bytes_min, margin, 'sentence'):9.2f} "
                f"{100 * mean(bytes_min, margin, '4 words'):8.2f} {mean(bytes_min, margin, 'sentence lookups'):8.1f}"
            )


if __name__ == "__main__":
    main()
