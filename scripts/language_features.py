"""Text to the features of the language model: exactly what zig/language_model.zig computes
(lowercasing, each alphabet's letters, words, the keys of their 1- to 4-grams and of whole words).
scripts/train_language_model.py counts them; the native code looks them up."""

from __future__ import annotations

from collections.abc import Iterator

ORDER_MAX = 4
WORD_CHARS_MAX = 12

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1
WORD_MARK = 0x110000  # not a code point: seeds the whole-word hash apart from the n-grams
SPACE = 0x20
# An n-gram's key packs its code points 16 bits each, the newest lowest: natively that is a
# shift register updated once per letter, where a hash over each n-gram cost a loop per order.
# Every letter of the Latin and Cyrillic tables lies in the BMP; a Han character beyond it keeps
# its low 16 bits, which no BMP Han character shares.
GRAM_BITS = 16
# XORed into the packed n-gram per order, so that orders never share a key.
ORDER_SEEDS = tuple((order * 0x9E3779B97F4A7C15) & MASK64 for order in range(ORDER_MAX + 1))


def lowercase(codepoint: int) -> int:
    """zig/language_model.zig `lowercase`, code point for code point."""
    c = codepoint
    if 0x41 <= c <= 0x5A or 0xC0 <= c <= 0xD6 or 0xD8 <= c <= 0xDE:
        return c + 0x20
    if c == 0x130:
        return 0x69
    if (
        0x100 <= c <= 0x12F
        or 0x132 <= c <= 0x137
        or 0x14A <= c <= 0x177
        or 0x218 <= c <= 0x21B
        or 0x1E00 <= c <= 0x1EFF
    ):
        return c | 1
    if 0x139 <= c <= 0x148 or 0x179 <= c <= 0x17E:
        return c + 1 if c & 1 else c
    if 0x400 <= c <= 0x40F:
        return c + 0x50
    if 0x410 <= c <= 0x42F:
        return c + 0x20
    if c == 0x490:
        return 0x491
    return c


def is_latin_letter(c: int) -> bool:
    """zig/script_table.zig's Latin letters."""
    return (
        0x41 <= c <= 0x5A
        or 0x61 <= c <= 0x7A
        or c in (0xAA, 0xBA)
        or 0xC0 <= c <= 0xD6
        or 0xD8 <= c <= 0xF6
        or 0xF8 <= c <= 0x2AF
        or 0x1D00 <= c <= 0x1DBF
        or 0x1E00 <= c <= 0x1EFF
        or 0x2090 <= c <= 0x209C
        or 0x2C60 <= c <= 0x2C7F
        or 0xA722 <= c <= 0xA7FF
        or 0xAB30 <= c <= 0xAB5A
        or 0xAB5C <= c <= 0xAB69
        or 0xFB00 <= c <= 0xFB06
        or 0xFF21 <= c <= 0xFF3A
        or 0xFF41 <= c <= 0xFF5A
    )


def is_cyrillic_letter(c: int) -> bool:
    """zig/script_table.zig's Cyrillic letters."""
    return (
        0x400 <= c <= 0x481
        or 0x48A <= c <= 0x52F
        or 0x1C80 <= c <= 0x1C88
        or 0xA640 <= c <= 0xA66E
        or 0xA67F <= c <= 0xA69D
    )


def is_han_letter(c: int) -> bool:
    """zig/script_table.zig's Han letters."""
    return (
        0x3005 <= c <= 0x3007
        or 0x303B <= c <= 0x303C
        or 0x3400 <= c <= 0x4DBF
        or 0x4E00 <= c <= 0x9FFF
        or 0xF900 <= c <= 0xFAFF
        or 0x20000 <= c <= 0x2A6DF
        or 0x2A700 <= c <= 0x2EE5F
        or 0x2F800 <= c <= 0x2FA1F
        or 0x30000 <= c <= 0x323AF
    )


def is_arabic_letter(c: int) -> bool:
    """zig/script_table.zig's Arabic letters (harakat and tatweel included, digits not)."""
    return (
        0x620 <= c <= 0x65F
        or 0x66E <= c <= 0x6D3
        or 0x6D5 <= c <= 0x6DC
        or 0x6E1 <= c <= 0x6E8
        or 0x6ED <= c <= 0x6EF
        or 0x6FA <= c <= 0x6FC
        or c == 0x6FF
        or 0x750 <= c <= 0x77F
        or 0x870 <= c <= 0x887
        or 0x8A0 <= c <= 0x8C9
        or 0xFB50 <= c <= 0xFBB1
        or 0xFBD3 <= c <= 0xFD3D
        or 0xFD50 <= c <= 0xFDC7
        or 0xFDF0 <= c <= 0xFDFB
        or 0xFE70 <= c <= 0xFEFC
    )


LETTER_TEST = {
    "latin": is_latin_letter,
    "cyrillic": is_cyrillic_letter,
    "han": is_han_letter,
    "arabic": is_arabic_letter,
}


def is_cjk_punctuation(c: int) -> bool:
    """zig/language_model.zig `isCjkPunctuation`: the punctuation of Chinese and Japanese text
    (general punctuation such as dashes and quotation marks, the CJK Symbols and Punctuation
    block, the katakana middle dot, fullwidth and halfwidth forms), without the letters script_table.zig lists in those blocks
    (々 〆 〇 〻 〼, fullwidth Latin, halfwidth katakana)."""
    return (
        0x2010 <= c <= 0x2027
        or c == 0x30FB
        or (0x3001 <= c <= 0x303F and not 0x3005 <= c <= 0x3007 and not 0x303B <= c <= 0x303C)
        or (0xFF01 <= c <= 0xFF65 and not 0xFF21 <= c <= 0xFF3A and not 0xFF41 <= c <= 0xFF5A)
    )


def words(text: str, alphabet: str) -> Iterator[list[int]]:
    """Lowercase words: maximal runs of the alphabet's letters. For Han, each CJK punctuation
    mark is a word of its own: Chinese and Japanese punctuate differently (Japanese lists and
    clauses with 、 where Chinese writes ，, quotes with 「」 where Chinese writes “”), evidence
    that kanji-only Japanese needs."""
    test = LETTER_TEST[alphabet]
    word: list[int] = []
    for character in text:
        c = ord(character)
        if test(c):
            word.append(lowercase(c))
            continue
        if word:
            yield word
            word = []
        if alphabet == "han" and is_cjk_punctuation(c):
            yield [c]
    if word:
        yield word


def fnv(seed: int, codepoints: list[int]) -> int:
    h = seed
    for c in codepoints:
        h = ((h ^ c) * FNV_PRIME) & MASK64
    return h


def mix(h: int) -> int:
    """A finaliser (murmur3's fmix64) so that slot and fingerprint bits are independent."""
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK64
    h ^= h >> 33
    return h


def gram_key(gram: list[int]) -> int:
    """zig/language_model.zig `gramKey`: the n-gram packed, then mixed with its order's seed."""
    assert 1 <= len(gram) <= ORDER_MAX and ORDER_MAX * GRAM_BITS <= 64
    packed = 0
    for c in gram:
        packed = (packed << GRAM_BITS) | (c & ((1 << GRAM_BITS) - 1))
    return mix(packed ^ ORDER_SEEDS[len(gram)])


def word_features(word: list[int]) -> Iterator[int]:
    """Keys of the n-grams (1..ORDER_MAX) of " word " and of the whole word (an FNV hash)."""
    for key, _ in word_features_kinds(word):
        yield key


# The kind of a whole word's feature in `word_features_kinds`; an n-gram's kind is its order.
WHOLE_WORD = 0


def word_features_kinds(word: list[int]) -> Iterator[tuple[int, int]]:
    """`word_features`, each key with its kind: the n-gram's order, or WHOLE_WORD."""
    padded = [SPACE, *word, SPACE]
    for end in range(1, len(padded) + 1):
        for order in range(1, ORDER_MAX + 1):
            start = end - order
            if start < 0:
                break
            gram = padded[start:end]
            if gram == [SPACE]:
                continue
            yield gram_key(gram), order
    if len(word) <= WORD_CHARS_MAX:
        yield word_key(word), WHOLE_WORD


def word_key(word: list[int]) -> int:
    """The key of a whole word: FNV-1a over it, apart from the n-grams by its seed."""
    return mix(fnv(FNV_OFFSET, [WORD_MARK, *word]))


def text_features(text: str, alphabet: str) -> Iterator[int]:
    for word in words(text, alphabet):
        yield from word_features(word)
