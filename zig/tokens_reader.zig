//! The characters of the token estimator's pass (`tokens.zig`), classed as cl100k's
//! pretokenizer tells them apart: letters (with their script), digits, newlines, other
//! whitespace, punctuation, and invalid bytes, read with one character of lookahead.
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const Script = script.Script;

pub const Class = enum { letter, digit, newline, space, punctuation, invalid, end };

pub const Character = struct {
    codepoint: u21,
    class: Class,
    letter_script: Script,
};

/// Reads code points with one character of lookahead. An invalid byte is a class of its own: a
/// byte-level tokenizer spends a token on each.
pub const Reader = struct {
    bytes: []const u8,
    /// Where the character after `lookahead` starts.
    index: usize,
    /// Decoded once: every run looks one character ahead.
    lookahead: Character,
    /// Characters taken, to check that every step of `estimate` makes progress.
    taken: usize = 0,

    pub fn init(bytes: []const u8) Reader {
        var reader: Reader = .{ .bytes = bytes, .index = 0, .lookahead = undefined };
        reader.lookahead = reader.decode();
        return reader;
    }

    pub fn peek(reader: *const Reader) Character {
        return reader.lookahead;
    }

    pub fn take(reader: *Reader) Character {
        const character = reader.lookahead;
        assert(character.class != .end);
        reader.lookahead = reader.decode();
        reader.taken += 1;
        return character;
    }

    /// Takes every character before byte `index`, which must start a character: the caller
    /// has read them from `bytes` itself.
    pub fn skipTo(reader: *Reader, index: usize) void {
        assert(index >= reader.index - 1 and index <= reader.bytes.len);
        const characters = index - (reader.index - 1);
        reader.index = index;
        reader.lookahead = reader.decode();
        reader.taken += characters;
    }

    fn decode(reader: *Reader) Character {
        assert(reader.index <= reader.bytes.len);
        if (reader.index == reader.bytes.len) {
            return .{ .codepoint = 0, .class = .end, .letter_script = .other };
        }
        // ASCII by table: the general path below cost 40 instructions a character, most of
        // an English text's estimate.
        const lead = reader.bytes[reader.index];
        if (lead < 0x80) {
            reader.index += 1;
            return ascii_characters[lead];
        }
        // At most one code point: the slice ends four bytes on, so invalid bytes after a valid
        // character are left for the next call.
        const end = reader.index + @min(4, reader.bytes.len - reader.index);
        var iterator: script.Utf8Lossy = .{ .bytes = reader.bytes[0..end], .index = reader.index };
        const codepoint = iterator.next();
        if (codepoint == null or iterator.bytes_invalid > 0) {
            reader.index += 1; // One invalid byte, one byte token.
            return .{ .codepoint = 0xFFFD, .class = .invalid, .letter_script = .other };
        }
        reader.index = iterator.index;
        return classifyCharacter(codepoint.?);
    }
};

const ascii_characters: [0x80]Character = table: {
    var characters: [0x80]Character = undefined;
    for (&characters, 0..) |*character, codepoint| character.* = classifyCharacter(codepoint);
    break :table characters;
};

fn classifyCharacter(codepoint: u21) Character {
    if (script.classify(codepoint)) |letter_script| {
        return .{ .codepoint = codepoint, .class = .letter, .letter_script = letter_script };
    }
    const class: Class = switch (codepoint) {
        '0'...'9', 0xFF10...0xFF19 => .digit,
        '\n', '\r' => .newline,
        ' ', '\t', 0x0B, 0x0C, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 => .space,
        else => .punctuation,
    };
    return .{ .codepoint = codepoint, .class = class, .letter_script = .other };
}

const testing = std.testing;

test "the ASCII table classifies as the general path does" {
    for (0..0x80) |byte| {
        const expected = classifyCharacter(@intCast(byte));
        try testing.expectEqual(expected, ascii_characters[byte]);
    }
}
