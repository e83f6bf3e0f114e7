//! Unicode scripts of letters: which script, if any, a code point is a letter of.
//!
//! Scripts are defined by a range table checked at comptime; from it, comptime builds a two-level
//! table of the whole Basic Multilingual Plane (two loads per code point), and the search over the
//! ranges is left to the supplementary planes and to the tests, which check the table against it
//! exhaustively (and `script.zig` checks the fast paths of `count` against it). Only letters are
//! classified (including the vowel signs of abugidas such as Thai and Devanagari, which carry the
//! Unicode Alphabetic property); digits, whitespace, punctuation, symbols, emoji and
//! script-neutral combining marks are not letters.
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
pub const not_letter: u8 = script_count;

comptime {
    assert(script_count < std.math.maxInt(u8));
}

/// Classes of the whole Basic Multilingual Plane in two loads and no branch: the plane is cut
/// into blocks of 64 code points; a block whose code points share one class points at that
/// class's uniform row, every other block at a row of its own. 13 uniform and about 90 mixed
/// rows of 64 bytes plus the 1 KiB index: some 7 KiB, of which a text touches a few lines.
pub const block_bits = 6;
const block_size = 1 << block_bits;
const bmp_size = 0x10000;
const block_count = bmp_size >> block_bits;

/// Every BMP code point's class, from `ranges`; read at comptime only.
pub const bmp_classes: [bmp_size]u8 = table: {
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
pub inline fn bmpClassAt(block: u16, column: u8) u8 {
    return bmp_rows[bmp_block_rows[block]][column];
}

/// The class of any code point: the table for the BMP, a search over `ranges` beyond it.
pub inline fn classOf(codepoint: u21) u8 {
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
pub fn classifySearched(codepoint: u21) ?Script {
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

test "classify: the BMP table agrees with the search over every code point" {
    var codepoint: u21 = 0;
    while (codepoint <= 0x10FFFF) : (codepoint += 1) {
        try testing.expectEqual(classifySearched(codepoint), classify(codepoint));
    }
}
