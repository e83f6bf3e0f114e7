//! UTF-8 decoding that never fails. The language detector and the token estimator both walk
//! untrusted prompt bytes. Decoding here is lossy on purpose: an invalid byte is counted and
//! skipped, never an error, so a prompt with a stray byte still routes. Invalid input follows
//! Unicode's "maximal subpart" practice (the same count of replacement characters as Python's
//! `errors="replace"`): a truncated or broken sequence counts once, and decoding resumes at the
//! first byte that did not fit.
const std = @import("std");
const assert = std.debug.assert;

/// Iterates the code points of possibly invalid UTF-8. Invalid bytes are skipped and counted in
/// `bytes_invalid`: one count per maximal invalid subpart (a lone byte, or the valid prefix of a
/// truncated sequence). Overlong forms, surrogates (ED A0..ED BF, as in CESU-8 or WTF-8) and code
/// points above U+10FFFF are invalid. NUL is a valid code point.
pub const Utf8Lossy = struct {
    bytes: []const u8,
    index: usize = 0,
    bytes_invalid: u32 = 0,

    pub inline fn next(self: *Utf8Lossy) ?u21 {
        assert(self.index <= self.bytes.len);
        // Each iteration consumes at least one byte, so the loop is bounded by the input length.
        while (self.index < self.bytes.len) {
            const lead = self.bytes[self.index];
            if (lead < 0x80) {
                self.index += 1;
                return lead;
            }
            // Two-byte sequences (Cyrillic, Greek, Hebrew, Arabic, accented Latin) without the
            // general decoder: C2..DF never need the second-byte bounds of `secondByteBounds`.
            if (lead >= 0xC2 and lead <= 0xDF and self.index + 1 < self.bytes.len) {
                const second = self.bytes[self.index + 1];
                if (second & 0xC0 == 0x80) {
                    self.index += 2;
                    return (@as(u21, lead & 0x1F) << 6) | (second & 0x3F);
                }
            }
            // Three-byte sequences (Han, kana, Hangul, Devanagari, Thai) likewise: only E0 and ED
            // restrict their second byte, so the other leads need just two continuation checks.
            if (lead >= 0xE1 and lead <= 0xEF and lead != 0xED and self.index + 2 < self.bytes.len) {
                const second = self.bytes[self.index + 1];
                const third = self.bytes[self.index + 2];
                if (second & 0xC0 == 0x80 and third & 0xC0 == 0x80) {
                    self.index += 3;
                    return (@as(u21, lead & 0x0F) << 12) | (@as(u21, second & 0x3F) << 6) | (third & 0x3F);
                }
            }
            const step = decode(self.bytes[self.index..]);
            assert(step.length >= 1);
            assert(step.length <= 4);
            self.index += step.length;
            if (step.codepoint) |codepoint| return codepoint;
            self.bytes_invalid +|= 1;
        }
        assert(self.index == self.bytes.len);
        return null;
    }
};

pub const Step = struct {
    /// Null when the consumed bytes are one maximal invalid subpart.
    codepoint: ?u21,
    length: u3,
};

/// The valid range of the second byte depends on the lead byte: these bounds reject overlong
/// forms (E0, F0), surrogates (ED) and code points above U+10FFFF (F4) in one comparison.
fn secondByteBounds(lead: u8) struct { low: u8, high: u8 } {
    return switch (lead) {
        0xE0 => .{ .low = 0xA0, .high = 0xBF },
        0xED => .{ .low = 0x80, .high = 0x9F },
        0xF0 => .{ .low = 0x90, .high = 0xBF },
        0xF4 => .{ .low = 0x80, .high = 0x8F },
        else => .{ .low = 0x80, .high = 0xBF },
    };
}

pub fn decode(bytes: []const u8) Step {
    assert(bytes.len > 0);
    const lead = bytes[0];
    if (lead < 0x80) return .{ .codepoint = lead, .length = 1 };
    const length: u3 = switch (lead) {
        0xC2...0xDF => 2,
        0xE0...0xEF => 3,
        0xF0...0xF4 => 4,
        else => return .{ .codepoint = null, .length = 1 }, // Continuation, C0, C1, F5..FF.
    };
    var codepoint: u21 = switch (length) {
        2 => lead & 0x1F,
        3 => lead & 0x0F,
        4 => lead & 0x07,
        else => unreachable,
    };
    const bounds = secondByteBounds(lead);
    var consumed: u3 = 1;
    while (consumed < length) : (consumed += 1) {
        if (consumed == bytes.len) return .{ .codepoint = null, .length = consumed };
        const byte = bytes[consumed];
        const low: u8 = if (consumed == 1) bounds.low else 0x80;
        const high: u8 = if (consumed == 1) bounds.high else 0xBF;
        if (byte < low or byte > high) return .{ .codepoint = null, .length = consumed };
        codepoint = (codepoint << 6) | (byte & 0x3F);
    }
    assert(codepoint <= 0x10FFFF);
    assert(codepoint < 0xD800 or codepoint > 0xDFFF);
    return .{ .codepoint = codepoint, .length = length };
}

pub inline fn isContinuation(byte: u8) bool {
    return byte & 0xC0 == 0x80;
}

const testing = std.testing;

fn expectDecoded(bytes: []const u8, expected: []const u21, bytes_invalid: u32) !void {
    var iterator: Utf8Lossy = .{ .bytes = bytes };
    var index: usize = 0;
    while (iterator.next()) |codepoint| : (index += 1) {
        try testing.expect(index < expected.len);
        try testing.expectEqual(expected[index], codepoint);
    }
    try testing.expectEqual(expected.len, index);
    try testing.expectEqual(bytes_invalid, iterator.bytes_invalid);
    try testing.expectEqual(bytes.len, iterator.index);
}

test "Utf8Lossy: valid text of every length" {
    try expectDecoded("", &.{}, 0);
    try expectDecoded("a\x00b", &.{ 'a', 0, 'b' }, 0);
    try expectDecoded("é中😀", &.{ 0xE9, 0x4E2D, 0x1F600 }, 0);
    try expectDecoded("\u{10FFFF}\u{D7FF}\u{E000}", &.{ 0x10FFFF, 0xD7FF, 0xE000 }, 0);
}

test "Utf8Lossy: the two- and three-byte fast paths agree with the general decoder" {
    // Every lead from C0 to EF with every pair of following bytes, then a letter.
    var lead: u16 = 0xC0;
    while (lead <= 0xEF) : (lead += 1) {
        for (0..256) |second| {
            var third: u16 = 0x7F;
            while (third <= 0xC0) : (third += 1) {
                const bytes = [_]u8{ @intCast(lead), @intCast(second), @intCast(third), 'x' };
                var fast: Utf8Lossy = .{ .bytes = &bytes };
                var index: usize = 0;
                var invalid: u32 = 0;
                while (index < bytes.len) {
                    const step = decode(bytes[index..]);
                    index += step.length;
                    if (step.codepoint) |expected| {
                        try std.testing.expectEqual(@as(?u21, expected), fast.next());
                    } else invalid += 1;
                }
                try std.testing.expectEqual(@as(?u21, null), fast.next());
                try std.testing.expectEqual(invalid, fast.bytes_invalid);
            }
        }
    }
}

// The expected counts match Python's bytes.decode("utf-8", errors="replace").
test "Utf8Lossy: invalid bytes are counted once per maximal subpart" {
    try expectDecoded("\x80", &.{}, 1); // lone continuation
    try expectDecoded("a\x80\xBFb", &.{ 'a', 'b' }, 2);
    try expectDecoded("\xE4\xB8", &.{}, 1); // truncated 3-byte sequence
    try expectDecoded("\xE4\xB8a", &.{'a'}, 1);
    try expectDecoded("\xF0\x9F\x98", &.{}, 1); // truncated 4-byte sequence
    try expectDecoded("\xC0\x80", &.{}, 2); // overlong NUL
    try expectDecoded("\xC1\xBF", &.{}, 2);
    try expectDecoded("\xE0\x80\xAF", &.{}, 3); // overlong '/'
    try expectDecoded("\xF0\x80\x80\xAF", &.{}, 4);
    try expectDecoded("\xED\xA0\x80", &.{}, 3); // encoded surrogate U+D800
    try expectDecoded("\xED\xBF\xBFz", &.{'z'}, 3); // encoded surrogate U+DFFF
    try expectDecoded("\xF4\x90\x80\x80", &.{}, 4); // above U+10FFFF
    try expectDecoded("\xF5\xFF\xFE", &.{}, 3);
    try expectDecoded("\xC3", &.{}, 1); // truncated at the very end
    try expectDecoded("\xC3\xC3\xA9", &.{0xE9}, 1);
}
