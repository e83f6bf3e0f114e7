//! The script pass a code point at a time: `Common.run` counts ASCII and valid two- and
//! three-byte sequences straight from their bytes, `Tally.decoded` the rest through the general
//! decoder. `script.zig`'s `count` calls them where the block paths of `script_vector.zig` stop.
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const script_table = @import("script_table.zig");
const utf8 = @import("utf8.zig");

const Counts = script.Counts;
const Script = script_table.Script;
const script_count = script_table.script_count;
const not_letter = script_table.not_letter;
const block_bits = script_table.block_bits;
const bmp_classes = script_table.bmp_classes;
const bmpClassAt = script_table.bmpClassAt;
const classOf = script_table.classOf;
const decode = utf8.decode;
const isContinuation = utf8.isContinuation;

/// The letters of the most frequent sequences, counted apart from `Tally` so that they stay in
/// registers: incrementing a counter in memory per letter would chain every letter to the
/// previous one's store.
pub const Common = struct {
    latin: usize = 0,
    cyrillic: usize = 0,
    han: usize = 0,
    /// The class of the last other two- or three-byte sequence (Greek, Arabic, Devanagari, Thai,
    /// Hangul, kana, accented Latin, punctuation), and the sequences of that class counted since
    /// it became the last: text in one of those scripts keeps this counter in a register too,
    /// and pays a store only where the class changes.
    other_class: u8 = not_letter,
    other: usize = 0,

    /// Counts from `start` while the text holds only ASCII and valid two- and three-byte
    /// sequences, up to `end`; returns where it stopped (a four-byte sequence or an invalid
    /// byte, for the decoder). E4..E9 Han (U+4000..U+9FFF) is told by its bytes alone, the rest
    /// by the BMP table read from the bytes (no code point is assembled). Cyrillic text mostly
    /// takes `countCyrillicBlocks`; a byte check for it here cost Greek more than it saved
    /// Russian (callgrind).
    pub fn run(common: *Common, comptime load: Load, tally: *Tally, text: []const u8, start: usize, end: usize) usize {
        assert(end <= if (load == .padded) text.len else text.len -| 2);
        var latin: usize = 0;
        var han: usize = 0;
        var other = common.other;
        var other_class = common.other_class;
        var index = start;
        while (index < end) {
            const lead = text[index];
            if (lead < 0x80) {
                latin += @intFromBool((lead | 0x20) -% 'a' < 26);
                index += 1;
                continue;
            }
            // The table's row is the code point's bits above the low six, its column those six:
            // for two bytes, the lead's five bits and the second's six; for three, the lead's
            // four and the second's six, then the third's six.
            const second = byteAt(load, text, index + 1);
            var block: u16 = undefined;
            var column: u8 = undefined;
            var length: usize = undefined;
            if (lead -% 0xC2 < 0xE0 - 0xC2) { // C2..DF (C0 and C1 are overlong forms).
                if (!isContinuation(second)) break;
                block = lead & 0x1F;
                column = second & 0x3F;
                length = 2;
            } else if (lead & 0xF0 == 0xE0) {
                const third = byteAt(load, text, index + 2);
                if (!isContinuation(second) or !isContinuation(third)) break;
                if (lead -% 0xE4 < 6 and !(lead == 0xE4 and second == 0xB7)) {
                    // E4..E9: U+4000..U+9FFF, all Han (Extension A, then the Unified
                    // Ideographs) but the hexagram symbols U+4DC0..U+4DFF, E4 B7 xx.
                    han += 1;
                    index += 3;
                    continue;
                }
                block = (@as(u16, lead & 0x0F) << 6) | (second & 0x3F);
                // Overlong forms (below U+0800) and surrogates (U+D800..U+DFFF) are for the
                // decoder.
                if (block < 0x800 >> block_bits or block -% (0xD800 >> block_bits) < 0x800 >> block_bits) break;
                column = third & 0x3F;
                length = 3;
            } else break;
            const class = bmpClassAt(block, column);
            if (class != other_class) {
                tally.letters[other_class] += other;
                other = 0;
                other_class = class;
            }
            other += 1;
            index += length;
        }
        common.latin += latin;
        common.han += han;
        common.other = other;
        common.other_class = other_class;
        return index;
    }
};

/// How `Common.run` reads the two bytes after a lead: straight, or as NUL past the end of the
/// text (the last two bytes).
pub const Load = enum { unpadded, padded };

/// The byte at `index`; with a padded load, NUL past the end of the text. NUL is no
/// continuation, so a sequence cut off by the end fails its checks and goes to the decoder.
inline fn byteAt(comptime load: Load, text: []const u8, index: usize) u8 {
    if (load == .unpadded) return text[index];
    return if (index < text.len) text[index] else 0;
}

/// The counters of `count` beside its fast paths'.
pub const Tally = struct {
    /// One counter per class: the last one collects what is not a letter.
    letters: [script_count + 1]usize = @splat(0),
    bytes_invalid: u32 = 0,

    /// Counts the non-ASCII code point, or the maximal invalid subpart, at `index`; returns the
    /// next index.
    pub fn decoded(tally: *Tally, text: []const u8, index: usize) usize {
        const step = decode(text[index..]);
        assert(step.length >= 1);
        assert(step.length <= 4);
        if (step.codepoint) |codepoint| tally.letters[classOf(codepoint)] += 1 else tally.bytes_invalid +|= 1;
        return index + step.length;
    }

    pub fn counts(tally: *const Tally, text_bytes: usize) Counts {
        var result: Counts = .{ .letters = undefined, .letters_total = 0, .bytes_invalid = tally.bytes_invalid };
        var letters_total: usize = 0;
        for (tally.letters[0..script_count], &result.letters) |letters_script, *counted| {
            counted.* = saturate(letters_script);
            letters_total += letters_script;
        }
        assert(letters_total <= text_bytes);
        result.letters_total = saturate(letters_total);
        return result;
    }
};

comptime {
    @setEvalBranchQuota(100_000);
    // The fast paths that count without the table: every code point they take is such a letter.
    for (0x0400..0x0480) |codepoint| assert(bmp_classes[codepoint] == @backingInt(Script.cyrillic));
    for (0x4000..0xA000) |codepoint| {
        const hexagram = codepoint >= 0x4DC0 and codepoint < 0x4E00;
        assert(hexagram == (bmp_classes[codepoint] != @backingInt(Script.han)));
    }
}

fn saturate(value: usize) u32 {
    return @intCast(@min(value, std.math.maxInt(u32)));
}
