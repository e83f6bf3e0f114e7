//! The script pass a block of bytes at a time: runs of ASCII 32 bytes at a time, and blocks of
//! Cyrillic or Chinese text (with their ASCII) told by byte masks. Each path stops at the first
//! block it cannot take; `script.zig`'s `count` then tries another or goes a code point at a time.
const std = @import("std");
const script_scalar = @import("script_scalar.zig");

const Common = script_scalar.Common;

pub const chunk_bytes = 32;
const Chunk = @Vector(chunk_bytes, u8);
const ChunkBits = @Int(.unsigned, chunk_bytes);
/// The block paths for Cyrillic and Chinese go 32 bytes at a time with AVX2 and 16 without: at
/// 32 bytes on SSE2 alone (the wheel's baseline), LLVM takes their many compares apart byte by
/// byte, while 16-byte blocks there run at about twice the old speed on Chinese.
const block_bytes = if (hasAvx2()) 32 else 16;

fn hasAvx2() bool {
    const cpu = @import("builtin").cpu;
    return cpu.arch == .x86_64 and std.Target.x86.featureSetHas(cpu.features, .avx2);
}
const Block = @Vector(block_bytes, u8);
const BlockBits = @Int(.unsigned, block_bytes);

/// Adds the ASCII letters of the chunks from `start` on to `latin`, up to the first chunk that
/// holds another byte; returns where that chunk starts, or the end of the text. A tail shorter
/// than a chunk is read through a copy padded with NUL, which is ASCII and no letter.
pub fn countAsciiChunks(text: []const u8, start: usize, latin: *usize) usize {
    var index = start;
    while (text.len - index >= chunk_bytes) {
        const chunk: Chunk = text[index..][0..chunk_bytes].*;
        if (!isAscii(chunk)) return index;
        latin.* += asciiLetters(chunk);
        index += chunk_bytes;
    }
    const tail = text.len - index;
    // A tail that starts beyond ASCII is not copied: it is not ASCII.
    if (tail == 0 or text[index] >= 0x80) return index;
    var padded: [chunk_bytes]u8 = @splat(0);
    @memcpy(padded[0..tail], text[index..]);
    if (!isAscii(padded)) return index;
    latin.* += asciiLetters(padded);
    return text.len;
}

/// Adds the letters of the blocks from `start` on that hold only ASCII and D0 or D1 sequences
/// (U+0400..U+047F: all of Russian's and Bulgarian's letters, and most of Ukrainian's) to
/// `common`, up to the first block that holds anything else; returns where that block starts.
/// Text that alternates words and spaces would otherwise take a mispredicted branch at every
/// word's two ends. A block whose last byte is a lead ends one byte early, before it.
pub fn countCyrillicBlocks(text: []const u8, start: usize, common: *Common) usize {
    var index = start;
    while (text.len - index >= block_bytes) {
        const block: Block = text[index..][0..block_bytes].*;
        const ascii = bitsOf(byteMask(block < splat(0x80)));
        if (ascii == std.math.maxInt(BlockBits)) return index; // `countAsciiChunks` is faster.
        const leads = bitsOf(byteMask(block & splat(0xFE) == splat(0xD0)));
        const continuations = bitsOf(byteMask(block & splat(0xC0) == splat(0x80)));
        // Every lead followed by a continuation and every continuation preceded by a lead (the
        // first byte is no continuation: `index` starts a sequence), and nothing else but ASCII.
        if (continuations != leads << 1 or ascii | leads | continuations != std.math.maxInt(BlockBits)) return index;
        const last_is_lead = leads >> (block_bytes - 1);
        common.cyrillic += @popCount(leads) - last_is_lead;
        common.latin += @popCount(bitsOf(byteMask(isAsciiLetter(block_bytes, block))) & ascii);
        index += block_bytes - last_is_lead;
    }
    return index;
}

/// Adds the letters of the blocks from `start` on that hold only ASCII and the three-byte
/// sequences of Chinese text to `common`, up to the first block that holds anything else;
/// returns where that block starts. The sequences: Han (E4..E9 but the hexagrams, E4 B7), CJK
/// punctuation (E3 80, with the letters 々 〆 〇 〻 〼 among it), fullwidth punctuation and Latin
/// (EF BC) and general punctuation (E2 80: dashes, quotation marks). A sequence that would end
/// past the block is left to the next one.
pub fn countHanBlocks(text: []const u8, start: usize, common: *Common) usize {
    var index = start;
    // Each lead's two following bytes are read from the blocks loaded one and two bytes later.
    // The conditions are combined as byte masks and turned into bit masks last.
    while (text.len - index >= block_bytes + 2) {
        const block: Block = text[index..][0..block_bytes].*;
        const seconds: Block = text[index + 1 ..][0..block_bytes].*;
        const thirds: Block = text[index + 2 ..][0..block_bytes].*;
        const ascii = bitsOf(byteMask(block < splat(0x80)));
        if (ascii == std.math.maxInt(BlockBits)) return index; // `countAsciiChunks` is faster.
        const continuations = bitsOf(byteMask(block & splat(0xC0) == splat(0x80)));
        const second_80 = byteMask(seconds == splat(0x80));
        const han = byteMask(block -% splat(0xE5) < splat(5)) |
            (byteMask(block == splat(0xE4)) & ~byteMask(seconds == splat(0xB7)));
        const cjk_punctuation = byteMask(block == splat(0xE3)) & second_80;
        const fullwidth = byteMask(block == splat(0xEF)) & byteMask(seconds == splat(0xBC));
        const general_punctuation = byteMask(block == splat(0xE2)) & second_80;
        const leads = bitsOf(han | cjk_punctuation | fullwidth | general_punctuation);
        // Each lead followed by exactly two continuations, and nothing else but ASCII (the first
        // byte is no continuation: `index` starts a sequence).
        if (continuations != (leads << 1 | leads << 2) or ascii | leads | continuations != std.math.maxInt(BlockBits)) return index;
        // 々 〆 〇 (E3 80 85..87) and 〻 〼 (E3 80 BB..BC) are Han letters; fullwidth A..Z and
        // a..z (EF BC A1..BA) are Latin ones (EF BD, with the rest of fullwidth a..z, is left
        // to the decoder).
        const han_marks = byteMask(thirds -% splat(0x85) < splat(3)) | byteMask(thirds -% splat(0xBB) < splat(2));
        const fullwidth_latin = byteMask(thirds -% splat(0xA1) < splat(26));
        const han_letters = bitsOf(han | (cjk_punctuation & han_marks));
        const latin_letters = bitsOf(fullwidth & fullwidth_latin);
        // The sequences that start in the block's last two bytes end past it: left for the next.
        const tail: BlockBits = leads >> (block_bytes - 2);
        const kept = std.math.maxInt(BlockBits) >> 2;
        common.han += @popCount(han_letters & kept);
        common.latin += @popCount(bitsOf(byteMask(isAsciiLetter(block_bytes, block))) & ascii) + @popCount(latin_letters & kept);
        index += if (tail & 1 != 0) block_bytes - 2 else if (tail != 0) block_bytes - 1 else block_bytes;
    }
    return index;
}

inline fn splat(byte: u8) Block {
    return @splat(byte);
}

/// 0xFF where `condition` holds, 0 elsewhere.
inline fn byteMask(condition: @Vector(block_bytes, bool)) Block {
    return @select(u8, condition, splat(0xFF), splat(0));
}

/// One bit per byte of a byte mask.
inline fn bitsOf(mask: Block) BlockBits {
    return @bitCast(mask != splat(0));
}

/// Which bytes of `bytes` (a chunk or a block) are ASCII letters.
inline fn isAsciiLetter(comptime length: comptime_int, bytes: @Vector(length, u8)) @Vector(length, bool) {
    const Bytes = @Vector(length, u8);
    const lower = bytes | @as(Bytes, @splat(0x20));
    return (lower -% @as(Bytes, @splat('a'))) < @as(Bytes, @splat(26));
}

/// The first byte from `index` on that is not ASCII, within a chunk (0 when there is none).
pub inline fn firstNonAscii(text: []const u8, index: usize) u8 {
    if (text.len - index < chunk_bytes) return 0; // The block paths need whole blocks anyway.
    const chunk: Chunk = text[index..][0..chunk_bytes].*;
    const non_ascii: ChunkBits = @bitCast(chunk >= @as(Chunk, @splat(0x80)));
    return if (non_ascii == 0) 0 else text[index + @ctz(non_ascii)];
}

inline fn isAscii(chunk: Chunk) bool {
    return @as(ChunkBits, @bitCast(chunk >= @as(Chunk, @splat(0x80)))) == 0;
}

inline fn asciiLetters(chunk: Chunk) usize {
    return @popCount(@as(ChunkBits, @bitCast(isAsciiLetter(chunk_bytes, chunk))));
}
