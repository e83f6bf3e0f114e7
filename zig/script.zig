//! Unicode scripts of letters, and UTF-8 decoding that never fails.
//!
//! The language detector and the token estimator both walk untrusted prompt bytes. Decoding here
//! is lossy on purpose: an invalid byte is counted and skipped, never an error, so a prompt with a
//! stray byte still routes. Invalid input follows Unicode's "maximal subpart" practice (the same
//! count of replacement characters as Python's `errors="replace"`): a truncated or broken sequence
//! counts once, and decoding resumes at the first byte that did not fit.
//!
//! Scripts are defined by a range table checked at comptime; from it, comptime builds a two-level
//! table of the whole Basic Multilingual Plane (two loads per code point), and the search over the
//! ranges is left to the supplementary planes and to the tests, which check the table and the fast
//! paths of `count` against it and the general decoder exhaustively. Only letters are classified
//! (including the vowel signs of abugidas such as Thai and Devanagari, which carry the Unicode
//! Alphabetic property); digits, whitespace, punctuation, symbols, emoji and script-neutral
//! combining marks are not letters.
const std = @import("std");
const assert = std.debug.assert;

/// Append-only: the numeric values are part of the C ABI.
pub const Script = enum(u8) {
    latin,
    cyrillic,
    greek,
    arabic,
    hebrew,
    devanagari,
    thai,
    hangul,
    hiragana,
    katakana,
    han,
    other,
};

pub const script_count = 12;

comptime {
    assert(@typeInfo(Script).@"enum".field_names.len == script_count);
    assert(@backingInt(Script.other) == script_count - 1);
}

const Range = struct {
    first: u21,
    last: u21,
    script: Script,
};

fn range(first: u21, last: u21, script: Script) Range {
    return .{ .first = first, .last = last, .script = script };
}

/// Letter ranges, sorted by code point. Where a block mixes letters with digits or punctuation
/// the non-letters are carved out, because digits and punctuation are script-neutral evidence.
const ranges = [_]Range{
    range(0x0041, 0x005A, .latin),
    range(0x0061, 0x007A, .latin),
    range(0x00AA, 0x00AA, .latin), // ª
    range(0x00BA, 0x00BA, .latin), // º
    range(0x00C0, 0x00D6, .latin), // Latin-1 Supplement letters, without ×
    range(0x00D8, 0x00F6, .latin), // without ÷
    range(0x00F8, 0x02AF, .latin), // Latin Extended-A, Extended-B, IPA Extensions
    range(0x0370, 0x0373, .greek),
    range(0x0376, 0x0377, .greek),
    range(0x037B, 0x037D, .greek),
    range(0x037F, 0x037F, .greek),
    range(0x0386, 0x0386, .greek),
    range(0x0388, 0x038A, .greek),
    range(0x038C, 0x038C, .greek),
    range(0x038E, 0x03A1, .greek),
    range(0x03A3, 0x03F5, .greek),
    range(0x03F7, 0x03FF, .greek),
    range(0x0400, 0x0481, .cyrillic),
    range(0x048A, 0x052F, .cyrillic),
    range(0x0531, 0x0556, .other), // Armenian
    range(0x0561, 0x0587, .other),
    range(0x05B0, 0x05BD, .hebrew), // points (niqqud)
    range(0x05BF, 0x05BF, .hebrew),
    range(0x05C1, 0x05C2, .hebrew),
    range(0x05C4, 0x05C5, .hebrew),
    range(0x05C7, 0x05C7, .hebrew),
    range(0x05D0, 0x05EA, .hebrew),
    range(0x05EF, 0x05F2, .hebrew),
    range(0x0620, 0x065F, .arabic), // letters, tatweel and harakat
    range(0x066E, 0x06D3, .arabic), // without Arabic-Indic digits and punctuation
    range(0x06D5, 0x06DC, .arabic),
    range(0x06E1, 0x06E8, .arabic),
    range(0x06ED, 0x06EF, .arabic),
    range(0x06FA, 0x06FC, .arabic), // without extended (Persian) digits
    range(0x06FF, 0x06FF, .arabic),
    range(0x0710, 0x074F, .other), // Syriac
    range(0x0750, 0x077F, .arabic), // Arabic Supplement
    range(0x0780, 0x07B1, .other), // Thaana
    range(0x07CA, 0x07EA, .other), // NKo
    range(0x0870, 0x0887, .arabic), // Arabic Extended-B
    range(0x08A0, 0x08C9, .arabic), // Arabic Extended-A
    range(0x0900, 0x0963, .devanagari), // without danda and digits
    range(0x0971, 0x097F, .devanagari),
    // Other Indic scripts: each block's letters, without its digits at offset 0x66.
    range(0x0980, 0x09E5, .other), // Bengali
    range(0x09F0, 0x09F1, .other),
    range(0x0A00, 0x0A65, .other), // Gurmukhi
    range(0x0A70, 0x0A75, .other),
    range(0x0A80, 0x0AE5, .other), // Gujarati
    range(0x0AF9, 0x0AFF, .other),
    range(0x0B00, 0x0B65, .other), // Oriya
    range(0x0B71, 0x0B71, .other),
    range(0x0B80, 0x0BE5, .other), // Tamil
    range(0x0C00, 0x0C65, .other), // Telugu
    range(0x0C80, 0x0CE5, .other), // Kannada
    range(0x0CF1, 0x0CF3, .other),
    range(0x0D00, 0x0D65, .other), // Malayalam
    range(0x0D7A, 0x0D7F, .other),
    range(0x0D80, 0x0DE5, .other), // Sinhala
    range(0x0E01, 0x0E3A, .thai), // without the baht sign
    range(0x0E40, 0x0E4E, .thai), // without fongman and digits
    range(0x0E81, 0x0ECF, .other), // Lao
    range(0x0EDC, 0x0EDF, .other),
    range(0x0F40, 0x0FBC, .other), // Tibetan
    range(0x1000, 0x103F, .other), // Myanmar
    range(0x1050, 0x108F, .other),
    range(0x10A0, 0x10FA, .other), // Georgian
    range(0x10FC, 0x10FF, .other),
    range(0x1100, 0x11FF, .hangul), // Hangul Jamo
    range(0x1200, 0x135F, .other), // Ethiopic
    range(0x13A0, 0x13FD, .other), // Cherokee
    range(0x1401, 0x166C, .other), // Canadian Aboriginal Syllabics
    range(0x166F, 0x167F, .other),
    range(0x1780, 0x17D3, .other), // Khmer
    range(0x1820, 0x1878, .other), // Mongolian
    range(0x1C80, 0x1C88, .cyrillic), // Cyrillic Extended-C
    range(0x1C90, 0x1CBF, .other), // Georgian Extended
    range(0x1D00, 0x1DBF, .latin), // Phonetic Extensions (mostly Latin)
    range(0x1E00, 0x1EFF, .latin), // Latin Extended Additional (Vietnamese)
    range(0x1F00, 0x1FBC, .greek), // Greek Extended, without spacing accents
    range(0x1FBE, 0x1FBE, .greek),
    range(0x1FC2, 0x1FCC, .greek),
    range(0x1FD0, 0x1FDB, .greek),
    range(0x1FE0, 0x1FEC, .greek),
    range(0x1FF2, 0x1FFC, .greek),
    range(0x2090, 0x209C, .latin), // subscript letters
    range(0x2C00, 0x2C5F, .other), // Glagolitic
    range(0x2C60, 0x2C7F, .latin), // Latin Extended-C
    range(0x2C80, 0x2CE4, .other), // Coptic
    range(0x2D00, 0x2D2D, .other), // Georgian Supplement
    range(0x2D30, 0x2D6F, .other), // Tifinagh
    range(0x2D80, 0x2DDE, .other), // Ethiopic Extended
    range(0x3005, 0x3007, .han), // 々 〆 〇
    range(0x303B, 0x303C, .han), // 〻 〼
    range(0x3041, 0x3096, .hiragana),
    range(0x309D, 0x309F, .hiragana), // ゝ ゞ ゟ
    range(0x30A1, 0x30FA, .katakana), // without the middle dot ・, which is punctuation
    range(0x30FC, 0x30FF, .katakana), // ー (prolonged sound mark) ヽ ヾ ヿ
    range(0x3105, 0x312F, .other), // Bopomofo
    range(0x3131, 0x318E, .hangul), // Hangul Compatibility Jamo
    range(0x31A0, 0x31BF, .other), // Bopomofo Extended
    range(0x31F0, 0x31FF, .katakana), // Katakana Phonetic Extensions
    range(0x3400, 0x4DBF, .han), // CJK Unified Ideographs Extension A
    range(0x4E00, 0x9FFF, .han), // CJK Unified Ideographs
    range(0xA000, 0xA48C, .other), // Yi
    range(0xA500, 0xA60B, .other), // Vai
    range(0xA640, 0xA66E, .cyrillic), // Cyrillic Extended-B
    range(0xA67F, 0xA69D, .cyrillic),
    range(0xA6A0, 0xA6E5, .other), // Bamum
    range(0xA722, 0xA7FF, .latin), // Latin Extended-D
    range(0xA8E0, 0xA8F7, .devanagari), // Devanagari Extended
    range(0xA8FB, 0xA8FB, .devanagari),
    range(0xA8FD, 0xA8FF, .devanagari),
    range(0xA960, 0xA97C, .hangul), // Hangul Jamo Extended-A
    range(0xA980, 0xA9C0, .other), // Javanese
    range(0xAB30, 0xAB5A, .latin), // Latin Extended-E
    range(0xAB5C, 0xAB69, .latin),
    range(0xAB70, 0xABBF, .other), // Cherokee Supplement
    range(0xABC0, 0xABEA, .other), // Meetei Mayek
    range(0xAC00, 0xD7A3, .hangul), // Hangul Syllables
    range(0xD7B0, 0xD7C6, .hangul), // Hangul Jamo Extended-B
    range(0xD7CB, 0xD7FB, .hangul),
    range(0xF900, 0xFAFF, .han), // CJK Compatibility Ideographs
    range(0xFB00, 0xFB06, .latin), // ligatures ﬀ ﬁ ﬂ
    range(0xFB13, 0xFB17, .other), // Armenian ligatures
    range(0xFB1D, 0xFB28, .hebrew), // Hebrew presentation forms, without the plus sign
    range(0xFB2A, 0xFB4F, .hebrew),
    range(0xFB50, 0xFBB1, .arabic), // Arabic Presentation Forms-A
    range(0xFBD3, 0xFD3D, .arabic),
    range(0xFD50, 0xFDC7, .arabic),
    range(0xFDF0, 0xFDFB, .arabic),
    range(0xFE70, 0xFEFC, .arabic), // Arabic Presentation Forms-B
    range(0xFF21, 0xFF3A, .latin), // fullwidth Latin
    range(0xFF41, 0xFF5A, .latin),
    range(0xFF66, 0xFF9F, .katakana), // halfwidth katakana, including ｰ
    range(0xFFA0, 0xFFDC, .hangul), // halfwidth Hangul
    range(0x10000, 0x1344F, .other), // historic scripts of the SMP (Linear B .. hieroglyphs)
    range(0x16800, 0x18AFF, .other), // Bamum Supplement .. Tangut
    range(0x1B000, 0x1B000, .katakana), // Kana Supplement: archaic katakana e
    range(0x1B001, 0x1B122, .hiragana), // hentaigana
    range(0x1B132, 0x1B132, .hiragana),
    range(0x1B150, 0x1B152, .hiragana),
    range(0x1B155, 0x1B155, .katakana),
    range(0x1B164, 0x1B167, .katakana),
    range(0x1E900, 0x1E943, .other), // Adlam
    range(0x20000, 0x2A6DF, .han), // CJK Extension B
    range(0x2A700, 0x2EE5F, .han), // CJK Extensions C, D, E, F, I
    range(0x2F800, 0x2FA1F, .han), // CJK Compatibility Ideographs Supplement
    range(0x30000, 0x323AF, .han), // CJK Extensions G, H
};

comptime {
    @setEvalBranchQuota(10_000);
    for (ranges, 0..) |entry, index| {
        assert(entry.first <= entry.last);
        if (index > 0) assert(ranges[index - 1].last < entry.first); // Sorted, non-overlapping.
    }
    assert(ranges[ranges.len - 1].last <= 0x10FFFF);
}

/// The class of a code point: its script's index, or `not_letter`. `count` keeps one counter
/// more than there are scripts, where code points that are not letters land without a branch.
const not_letter: u8 = script_count;

comptime {
    assert(script_count < std.math.maxInt(u8));
}

/// Classes of the whole Basic Multilingual Plane in two loads and no branch: the plane is cut
/// into blocks of 64 code points; a block whose code points share one class points at that
/// class's uniform row, every other block at a row of its own. 13 uniform and about 90 mixed
/// rows of 64 bytes plus the 1 KiB index: some 7 KiB, of which a text touches a few lines.
const block_bits = 6;
const block_size = 1 << block_bits;
const bmp_size = 0x10000;
const block_count = bmp_size >> block_bits;

/// Every BMP code point's class, from `ranges`; read at comptime only.
const bmp_classes: [bmp_size]u8 = table: {
    @setEvalBranchQuota(1_000_000);
    var classes: [bmp_size]u8 = @splat(not_letter);
    for (ranges) |entry| {
        if (entry.first >= bmp_size) break;
        for (entry.first..@min(entry.last + 1, bmp_size)) |codepoint| {
            classes[codepoint] = @backingInt(entry.script);
        }
    }
    break :table classes;
};

fn blockIsUniform(block: usize) bool {
    const row = bmp_classes[block * block_size ..][0..block_size];
    for (row) |class| {
        if (class != row[0]) return false;
    }
    return true;
}

const mixed_block_count = count: {
    @setEvalBranchQuota(1_000_000);
    var total: usize = 0;
    for (0..block_count) |block| total += @intFromBool(!blockIsUniform(block));
    break :count total;
};

const uniform_row_count = script_count + 1;

const bmp_rows: [uniform_row_count + mixed_block_count][block_size]u8 = rows: {
    @setEvalBranchQuota(1_000_000);
    var rows: [uniform_row_count + mixed_block_count][block_size]u8 = undefined;
    for (rows[0..uniform_row_count], 0..) |*row, class| row.* = @splat(class);
    var mixed: usize = uniform_row_count;
    for (0..block_count) |block| {
        if (blockIsUniform(block)) continue;
        rows[mixed] = bmp_classes[block * block_size ..][0..block_size].*;
        mixed += 1;
    }
    assert(mixed == rows.len);
    break :rows rows;
};

const bmp_block_rows: [block_count]u8 = index: {
    @setEvalBranchQuota(1_000_000);
    var block_rows: [block_count]u8 = undefined;
    var mixed: usize = uniform_row_count;
    for (&block_rows, 0..) |*row, block| {
        if (blockIsUniform(block)) {
            row.* = bmp_classes[block * block_size]; // The uniform row of that class.
        } else {
            row.* = mixed;
            mixed += 1;
        }
    }
    break :index block_rows;
};

comptime {
    assert(bmp_rows.len <= std.math.maxInt(u8) + 1); // Row numbers fit the index's bytes.
}

/// The class of a BMP code point.
inline fn bmpClass(codepoint: u21) u8 {
    assert(codepoint < bmp_size);
    return bmpClassAt(@intCast(codepoint >> block_bits), @intCast(codepoint & (block_size - 1)));
}

/// The class of the code point in `column` of `block` (its bits above the low six, and those
/// six): UTF-8's bytes give both without the code point being put together.
inline fn bmpClassAt(block: u16, column: u8) u8 {
    return bmp_rows[bmp_block_rows[block]][column];
}

/// The class of any code point: the table for the BMP, a search over `ranges` beyond it.
inline fn classOf(codepoint: u21) u8 {
    if (codepoint < bmp_size) return bmpClass(codepoint);
    return if (classifySearched(codepoint)) |found| @backingInt(found) else not_letter;
}

/// The script of a letter, or null when the code point is not a letter.
pub fn classify(codepoint: u21) ?Script {
    const class = classOf(codepoint);
    return if (class == not_letter) null else @fromBackingInt(class);
}

/// `classify` by binary search for the last range starting at or before the code point: the
/// definition that the tables are checked against, and the lookup beyond the BMP.
fn classifySearched(codepoint: u21) ?Script {
    var low: usize = 0;
    var high: usize = ranges.len;
    while (low < high) {
        const middle = low + (high - low) / 2;
        if (ranges[middle].first <= codepoint) low = middle + 1 else high = middle;
    }
    if (low == 0) return null;
    const entry = ranges[low - 1];
    assert(entry.first <= codepoint);
    return if (codepoint <= entry.last) entry.script else null;
}

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

const Step = struct {
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

fn decode(bytes: []const u8) Step {
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

/// Letter counts per script. Counters saturate at maxInt(u32) instead of overflowing; that is
/// reached only beyond 4 GiB of text, where the shares they give stay meaningful.
pub const Counts = struct {
    letters: [script_count]u32,
    letters_total: u32,
    bytes_invalid: u32,
};

const chunk_bytes = 32;
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

/// The letters of the most frequent sequences, counted apart from `Tally` so that they stay in
/// registers: incrementing a counter in memory per letter would chain every letter to the
/// previous one's store.
const Common = struct {
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
    fn run(common: *Common, comptime load: Load, tally: *Tally, text: []const u8, start: usize, end: usize) usize {
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
const Load = enum { unpadded, padded };

/// The byte at `index`; with a padded load, NUL past the end of the text. NUL is no
/// continuation, so a sequence cut off by the end fails its checks and goes to the decoder.
inline fn byteAt(comptime load: Load, text: []const u8, index: usize) u8 {
    if (load == .unpadded) return text[index];
    return if (index < text.len) text[index] else 0;
}

/// The counters of `count` beside its fast paths'.
const Tally = struct {
    /// One counter per class: the last one collects what is not a letter.
    letters: [script_count + 1]usize = @splat(0),
    bytes_invalid: u32 = 0,

    /// Counts the non-ASCII code point, or the maximal invalid subpart, at `index`; returns the
    /// next index.
    fn decoded(tally: *Tally, text: []const u8, index: usize) usize {
        const step = decode(text[index..]);
        assert(step.length >= 1);
        assert(step.length <= 4);
        if (step.codepoint) |codepoint| tally.letters[classOf(codepoint)] += 1 else tally.bytes_invalid +|= 1;
        return index + step.length;
    }

    fn counts(tally: *const Tally, text_bytes: usize) Counts {
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

inline fn isContinuation(byte: u8) bool {
    return byte & 0xC0 == 0x80;
}

/// Adds the ASCII letters of the chunks from `start` on to `latin`, up to the first chunk that
/// holds another byte; returns where that chunk starts, or the end of the text. A tail shorter
/// than a chunk is read through a copy padded with NUL, which is ASCII and no letter.
fn countAsciiChunks(text: []const u8, start: usize, latin: *usize) usize {
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
fn countCyrillicBlocks(text: []const u8, start: usize, common: *Common) usize {
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
fn countHanBlocks(text: []const u8, start: usize, common: *Common) usize {
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
inline fn firstNonAscii(text: []const u8, index: usize) u8 {
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

fn saturate(value: usize) u32 {
    return @intCast(@min(value, std.math.maxInt(u32)));
}

const testing = std.testing;

test "classify: letters of each script" {
    try testing.expectEqual(Script.latin, classify('a').?);
    try testing.expectEqual(Script.latin, classify('Z').?);
    try testing.expectEqual(Script.latin, classify('é').?);
    try testing.expectEqual(Script.latin, classify('ß').?);
    try testing.expectEqual(Script.latin, classify('ł').?);
    try testing.expectEqual(Script.latin, classify('ǎ').?);
    try testing.expectEqual(Script.latin, classify('ệ').?); // Vietnamese
    try testing.expectEqual(Script.latin, classify('Ａ').?); // fullwidth
    try testing.expectEqual(Script.cyrillic, classify('Ж').?);
    try testing.expectEqual(Script.cyrillic, classify('ї').?);
    try testing.expectEqual(Script.greek, classify('λ').?);
    try testing.expectEqual(Script.greek, classify('ά').?);
    try testing.expectEqual(Script.arabic, classify('ب').?);
    try testing.expectEqual(Script.arabic, classify('پ').?);
    try testing.expectEqual(Script.hebrew, classify('ש').?);
    try testing.expectEqual(Script.devanagari, classify('न').?);
    try testing.expectEqual(Script.devanagari, classify('ि').?); // vowel sign
    try testing.expectEqual(Script.thai, classify('ก').?);
    try testing.expectEqual(Script.hangul, classify('한').?);
    try testing.expectEqual(Script.hangul, classify('ㄱ').?);
    try testing.expectEqual(Script.hiragana, classify('ひ').?);
    try testing.expectEqual(Script.katakana, classify('カ').?);
    try testing.expectEqual(Script.katakana, classify('ー').?); // U+30FC
    try testing.expectEqual(Script.katakana, classify('ｶ').?); // halfwidth
    try testing.expectEqual(Script.han, classify('中').?);
    try testing.expectEqual(Script.han, classify('々').?);
    try testing.expectEqual(Script.han, classify(0x3400).?); // Extension A
    try testing.expectEqual(Script.han, classify(0x20000).?); // Extension B
    try testing.expectEqual(Script.han, classify(0xF900).?); // compatibility
    try testing.expectEqual(Script.other, classify('ա').?); // Armenian
    try testing.expectEqual(Script.other, classify('ᐊ').?); // Canadian syllabics
}

test "classify: non-letters are null" {
    const non_letters = [_]u21{
        '0',    '9',    ' ',    '\n',     0,      '!',    '@',    '[',    '`',     '{',
        0x7F,   0xA0,   0xD7,   0xF7,     0x300,  0x660,  0x6F0,  0x966,  0xE3F,   0xE50,
        0x2014, 0x20AC, 0x3000, 0x3001,   0x3002, 0x30FB, 0xFF01, 0xFF10, 0x1F600, 0x1F680,
        0xFFFD, 0xD7FF, 0xE000, 0x10FFFF,
    };
    for (non_letters) |codepoint| {
        try testing.expectEqual(@as(?Script, null), classify(codepoint));
    }
}

test "classify: every range boundary classifies as its own script" {
    for (ranges) |entry| {
        try testing.expectEqual(entry.script, classify(entry.first).?);
        try testing.expectEqual(entry.script, classify(entry.last).?);
    }
}

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

test "count: ASCII fast path and mixed scripts" {
    const counts = count("Hello, world! 12345 and more ASCII text here. Привет 你好 こんにちは");
    try testing.expectEqual(@as(u32, 30), counts.letters[@backingInt(Script.latin)]);
    try testing.expectEqual(@as(u32, 6), counts.letters[@backingInt(Script.cyrillic)]);
    try testing.expectEqual(@as(u32, 2), counts.letters[@backingInt(Script.han)]);
    try testing.expectEqual(@as(u32, 5), counts.letters[@backingInt(Script.hiragana)]);
    try testing.expectEqual(@as(u32, 43), counts.letters_total);
    try testing.expectEqual(@as(u32, 0), counts.bytes_invalid);
}

test "classify: the BMP table agrees with the search over every code point" {
    var codepoint: u21 = 0;
    while (codepoint <= 0x10FFFF) : (codepoint += 1) {
        try testing.expectEqual(classifySearched(codepoint), classify(codepoint));
    }
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
