//! The script pass: how many letters of each Unicode script a text holds, and how many of its
//! bytes are invalid UTF-8, in one pass over untrusted prompt bytes that never fails.
//!
//! The rooms: `script_table.zig` says which script a code point is a letter of, `utf8.zig`
//! decodes without failing, `script_vector.zig` counts runs of ASCII and blocks of Cyrillic or
//! Chinese text by byte masks, and `script_scalar.zig` counts the rest a code point at a time.
//! The tests here check `count` against the general decoder and the search over the ranges.
const std = @import("std");
const assert = std.debug.assert;
const script_table = @import("script_table.zig");
const utf8 = @import("utf8.zig");
const script_scalar = @import("script_scalar.zig");
const script_vector = @import("script_vector.zig");

pub const Script = script_table.Script;
pub const script_count = script_table.script_count;
pub const classify = script_table.classify;
pub const Utf8Lossy = utf8.Utf8Lossy;

const classifySearched = script_table.classifySearched;
const decode = utf8.decode;
const Common = script_scalar.Common;
const Tally = script_scalar.Tally;
const chunk_bytes = script_vector.chunk_bytes;
const countAsciiChunks = script_vector.countAsciiChunks;
const countCyrillicBlocks = script_vector.countCyrillicBlocks;
const countHanBlocks = script_vector.countHanBlocks;
const firstNonAscii = script_vector.firstNonAscii;

/// Letter counts per script. Counters saturate at maxInt(u32) instead of overflowing; that is
/// reached only beyond 4 GiB of text, where the shares they give stay meaningful.
pub const Counts = struct {
    letters: [script_count]u32,
    letters_total: u32,
    bytes_invalid: u32,
};

/// Counts the letters of each script in `text`. Runs of ASCII go 32 bytes at a time; other text
/// goes a code point at a time, with fast paths for the sequences of most letters (two-byte:
/// Cyrillic, Greek, Arabic, Hebrew, accented Latin; three-byte: Han, kana, Hangul) and the
/// general decoder only for what they do not take (four-byte sequences and invalid bytes).
pub fn count(text: []const u8) Counts {
    var tally: Tally = .{};
    var common: Common = .{};
    var index: usize = 0;
    while (index < text.len) {
        const chunks_start = index;
        index = countAsciiChunks(text, index, &common.latin);
        // The block paths are tried where the first byte beyond ASCII is one of theirs: text
        // in a Latin alphabet (é: C3 A9) goes straight on to the loop below.
        switch (firstNonAscii(text, index)) {
            0xD0, 0xD1 => index = countCyrillicBlocks(text, index, &common),
            0xE2...0xE9, 0xEF => index = countHanBlocks(text, index, &common),
            else => {},
        }
        // Each path stops where another may go on (a pure ASCII chunk after Chinese).
        if (index != chunks_start) continue;
        // Code points up to a chunk further at least: text without ASCII runs does not pay a
        // vector check per code point. A sequence may end past the chunk; the next starts there.
        const decode_end = @min(index + chunk_bytes, text.len);
        // A sequence is read from its first byte and the two after it: the first loop goes up
        // to the last two bytes of the text, and the second, for those, reads NUL past the end.
        const fast_end = @min(decode_end, text.len -| 2);
        while (index < fast_end) {
            index = common.run(.unpadded, &tally, text, index, fast_end);
            if (index < fast_end) index = tally.decoded(text, index);
        }
        while (index < decode_end) {
            index = common.run(.padded, &tally, text, index, decode_end);
            if (index < decode_end) index = tally.decoded(text, index);
        }
    }
    assert(index == text.len);
    tally.letters[@backingInt(Script.latin)] += common.latin;
    tally.letters[@backingInt(Script.cyrillic)] += common.cyrillic;
    tally.letters[@backingInt(Script.han)] += common.han;
    tally.letters[common.other_class] += common.other;
    return tally.counts(text.len);
}

const testing = std.testing;

test "count: ASCII fast path and mixed scripts" {
    const counts = count("Hello, world! 12345 and more ASCII text here. Привет 你好 こんにちは");
    try testing.expectEqual(@as(u32, 30), counts.letters[@backingInt(Script.latin)]);
    try testing.expectEqual(@as(u32, 6), counts.letters[@backingInt(Script.cyrillic)]);
    try testing.expectEqual(@as(u32, 2), counts.letters[@backingInt(Script.han)]);
    try testing.expectEqual(@as(u32, 5), counts.letters[@backingInt(Script.hiragana)]);
    try testing.expectEqual(@as(u32, 43), counts.letters_total);
    try testing.expectEqual(@as(u32, 0), counts.bytes_invalid);
}

/// `count` by definition: the general decoder and the search, a code point at a time.
fn countSearched(text: []const u8) Counts {
    var counts: Counts = .{ .letters = @splat(0), .letters_total = 0, .bytes_invalid = 0 };
    var index: usize = 0;
    while (index < text.len) {
        const step = decode(text[index..]);
        index += step.length;
        const codepoint = step.codepoint orelse {
            counts.bytes_invalid += 1;
            continue;
        };
        const found = classifySearched(codepoint) orelse continue;
        counts.letters[@backingInt(found)] += 1;
        counts.letters_total += 1;
    }
    return counts;
}

fn expectCountsSearched(text: []const u8) !void {
    const expected = countSearched(text);
    const counts = count(text);
    try testing.expectEqualSlices(u32, &expected.letters, &counts.letters);
    try testing.expectEqual(expected.letters_total, counts.letters_total);
    try testing.expectEqual(expected.bytes_invalid, counts.bytes_invalid);
}

test "count: every lead byte with every second byte agrees with the general decoder" {
    // At the start, across a chunk boundary, and cut short by the end of the text.
    const thirds = [_]u8{ 0x00, 0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xE5, 0xFF };
    const prefix: [chunk_bytes - 2]u8 = @splat('a');
    var buffer: [prefix.len + 4]u8 = undefined;
    buffer[0..prefix.len].* = prefix;
    var lead: u16 = 0x80;
    while (lead <= 0xFF) : (lead += 1) {
        for (0..256) |second| {
            for (thirds) |third| {
                const sequence = [_]u8{ @intCast(lead), @intCast(second), third, 'x' };
                try expectCountsSearched(&sequence);
                try expectCountsSearched(sequence[0..2]);
                buffer[prefix.len..].* = sequence;
                try expectCountsSearched(&buffer);
            }
        }
    }
}

test "count: random text of every script agrees with the general decoder" {
    var prng = std.Random.DefaultPrng.init(0x5C_1217);
    const random = prng.random();
    const pieces = [_][]const u8{
        "a",            "Z",        " ",    "7",    ".",
        "é",
        "ß",
        "Ж",
        "ї",
        "λ",
        "ب",
        "ש",
        "न",
        "ก",
        "中",
        "国",
        "\u{4DC0}",     "\u{3400}",
        "々",
        "、",
        "。",
        "ひ",
        "カ",
        "ー",
        "・",
        "한",
        "ㄱ",
        "Ａ",
        "，",
        "😀",
        "\u{20000}",    "\xFF",     "\x80", "\xE4", "\xE5\xA5",
        "\xED\xA0\x80", "\xF0\x9F", "\xC3",
    };
    var buffer: [300]u8 = undefined;
    for (0..3_000) |_| {
        const length = random.uintAtMost(usize, buffer.len);
        var used: usize = 0;
        // Runs of one piece, so that some chunks are pure ASCII and some pure Han or Cyrillic.
        while (used + 4 <= length) {
            const piece = pieces[random.uintLessThan(usize, pieces.len)];
            const repeat = 1 + random.uintLessThan(usize, 40);
            for (0..repeat) |_| {
                if (used + piece.len > length) break;
                @memcpy(buffer[used..][0..piece.len], piece);
                used += piece.len;
            }
            if (random.uintLessThan(u8, 8) == 0 and used < length) {
                buffer[used] = random.int(u8);
                used += 1;
            }
        }
        try expectCountsSearched(buffer[0..used]);
    }
    for (0..500) |_| {
        const length = random.uintAtMost(usize, buffer.len);
        random.bytes(buffer[0..length]);
        try expectCountsSearched(buffer[0..length]);
    }
}

test "count: every code point of U+2000..U+9FFF and the fullwidth forms, at every alignment" {
    // The fast loop takes E4..E9 but E4 B7; the rest of the blocks goes through the table.
    // Inside Han text long enough for the chunked path, and beside ASCII and Cyrillic.
    var codepoint: u21 = 0x2000;
    while (codepoint < 0xA000) : (codepoint += 1) {
        var buffer: [64]u8 = undefined;
        for (0..4) |offset| {
            @memset(buffer[0..offset], 'a');
            var length = offset + (std.unicode.utf8Encode(codepoint, buffer[offset..]) catch unreachable);
            buffer[length..][0..2].* = "\xD0\x96".*; // Ж
            try expectCountsSearched(buffer[0 .. length + 2]);
            while (length + 3 <= buffer.len) : (length += 3) buffer[length..][0..3].* = "中".*;
            try expectCountsSearched(buffer[0..length]);
        }
    }
    // Fullwidth forms, likewise.
    codepoint = 0xFF00;
    while (codepoint < 0xFFF0) : (codepoint += 1) {
        var buffer: [48]u8 = undefined;
        for (0..3) |offset| {
            var length: usize = 0;
            while (length < 3 * offset) : (length += 3) buffer[length..][0..3].* = "中".*;
            length += std.unicode.utf8Encode(codepoint, buffer[length..]) catch unreachable;
            while (length + 3 <= buffer.len) : (length += 3) buffer[length..][0..3].* = "中".*;
            try expectCountsSearched(buffer[0..length]);
        }
    }
}

test "count: empty, digits only, invalid only" {
    const empty = count("");
    try testing.expectEqual(@as(u32, 0), empty.letters_total);
    const digits = count("0123456789 +-*/ 3.14159265358979 !!!");
    try testing.expectEqual(@as(u32, 0), digits.letters_total);
    const invalid = count("\xFF\xFE\xFD\x80\x80");
    try testing.expectEqual(@as(u32, 0), invalid.letters_total);
    try testing.expectEqual(@as(u32, 5), invalid.bytes_invalid);
}
