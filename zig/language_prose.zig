//! The prose of a prompt, with its code left out, for language detection (issue 18): a question
//! in Chinese around an English code block is a Chinese prompt, and a URL, a file name or
//! `foo_bar(x)` is evidence for no language.
//!
//! Left out: fenced blocks (from a line's ``` to the next ```, or to the end), inline code
//! (from ` to the next ` on the same line, when all ASCII), and code-like tokens. A token is a run of
//! printable ASCII bytes other than a space; it is code when it holds one of the bytes in
//! `code_bytes`, a "/", an identifier followed by "(", or a "." between two letters or digits
//! ("example.com", "os.path"). Bytes outside ASCII (Han, Cyrillic, accented letters) end a token
//! and are always kept, so "函数foo_bar(x)返回" keeps "函数" and "返回".
//!
//! Text without any byte that could start code is returned as it is, after one table lookup per
//! byte; otherwise the prose is copied into the caller's fixed buffer, of which only the first
//! `prose_bytes_max` bytes of text are read.
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const language = @import("language.zig");

/// Code is judged on this much of the text: a prompt's language shows within a few hundred bytes.
pub const prose_bytes_max = 8 * 1024;
pub const Buffer = [prose_bytes_max]u8;

const code_bytes = "_={}[]<>\\;#$@|`";

/// Bytes after which a text may hold code: every byte of `code_bytes`, "/", "(", and "." when
/// a letter or digit follows it (a sentence's full stop is followed by a space or the end).
const maybe_code: [256]bool = table: {
    var result: [256]bool = @splat(false);
    for (code_bytes ++ "/(") |byte| result[byte] = true;
    break :table result;
};

fn mayHoldCode(text: []const u8) bool {
    for (text, 0..) |byte, index| {
        if (maybe_code[byte]) return true;
        if (byte == '.' and index + 1 < text.len and isAlphanumeric(text[index + 1])) return true;
    }
    return false;
}

/// The text that detection reads, and the letters of each script in it.
pub const Prose = struct { text: []const u8, counts: script.Counts };

/// `prose`, with the script counts of the prose and of the text after the part judged for code
/// (so that the letters of a long text are all counted).
pub fn proseCounted(text: []const u8, buffer: *Buffer) Prose {
    const kept = prose(text, buffer);
    var counts = script.count(kept);
    if (kept.ptr == text.ptr) return .{ .text = kept, .counts = counts };
    const rest = script.count(text[judgedLength(text)..]);
    for (&counts.letters, rest.letters) |*letters, more| letters.* += more;
    counts.letters_total += rest.letters_total;
    counts.bytes_invalid += rest.bytes_invalid;
    return .{ .text = kept, .counts = counts };
}

/// The bytes judged for code: at most `prose_bytes_max`, cut before a UTF-8 continuation byte.
fn judgedLength(text: []const u8) usize {
    if (text.len <= prose_bytes_max) return text.len;
    var length: usize = prose_bytes_max;
    var steps: usize = 0;
    while (length > 0 and steps < 3 and text[length] & 0xC0 == 0x80) : (steps += 1) length -= 1;
    return length;
}

fn isAlphanumeric(byte: u8) bool {
    return std.ascii.isAlphanumeric(byte);
}

fn isTokenByte(byte: u8) bool {
    return byte > ' ' and byte < 0x7F;
}

/// Whether an ASCII token (no space, no byte outside ASCII) reads as code.
fn isCodeToken(token: []const u8) bool {
    assert(token.len > 0);
    for (token, 0..) |byte, index| {
        if (std.mem.indexOfScalar(u8, code_bytes, byte) != null) return true;
        if (byte == '/') return true;
        const before_is_alphanumeric = index > 0 and isAlphanumeric(token[index - 1]);
        if (byte == '(' and before_is_alphanumeric) return true;
        const after_is_alphanumeric = index + 1 < token.len and isAlphanumeric(token[index + 1]);
        if (byte == '.' and before_is_alphanumeric and after_is_alphanumeric) return true;
    }
    return false;
}

/// `text` itself when it holds no code, else the prose of its first bytes copied into `buffer`.
pub fn prose(text: []const u8, buffer: *Buffer) []const u8 {
    if (!mayHoldCode(text[0..@min(text.len, prose_bytes_max)])) return text;
    const read = text[0..judgedLength(text)];

    var length: usize = 0;
    var index: usize = 0;
    while (index < read.len) {
        const rest = read[index..];
        if (std.mem.startsWith(u8, rest, "```")) {
            const end = std.mem.indexOfPos(u8, read, index + 3, "```") orelse read.len;
            index = @min(read.len, end + 3);
            buffer[length] = '\n';
            length += 1;
            continue;
        }
        if (rest[0] == '`') {
            // Inline code is ASCII: a span with other letters in it is prose between backticks.
            const line_end = std.mem.indexOfScalarPos(u8, read, index + 1, '\n') orelse read.len;
            const end = std.mem.indexOfScalarPos(u8, read[0..line_end], index + 1, '`') orelse line_end;
            const ascii = for (read[index..end]) |byte| {
                if (byte >= 0x80) break false;
            } else true;
            index = if (ascii) @min(read.len, end + 1) else index + 1;
            buffer[length] = ' ';
            length += 1;
            continue;
        }
        if (isTokenByte(rest[0])) {
            var end = index;
            while (end < read.len and isTokenByte(read[end]) and read[end] != '`') end += 1;
            const token = read[index..end];
            if (!isCodeToken(token)) {
                @memcpy(buffer[length..][0..token.len], token);
                length += token.len;
            } else {
                buffer[length] = ' ';
                length += 1;
            }
            index = end;
            continue;
        }
        buffer[length] = rest[0];
        length += 1;
        index += 1;
    }
    // Every step writes at most the bytes it reads (a fence or inline code, 1 byte for 3 or 1+).
    assert(length <= read.len);
    return buffer[0..length];
}

// ---------------------------------------------------------------------------------------------
// Short text.

/// Fewer letters than this ("OK", "no", "Hi", "x") are evidence for no language.
pub const letters_min = 3;
/// Below this many letters, a Latin or Cyrillic guess needs `short_confidence_min`.
pub const short_letters_max = 10;
pub const short_confidence_min = 0.5;

/// Whether a Latin or Cyrillic guess from so few letters is too weak to name a language: the
/// caller answers `und`, which routing takes as "no language rule".
pub fn tooShort(letters: u32, confidence: f32) bool {
    if (letters < letters_min) return true;
    return letters < short_letters_max and confidence < short_confidence_min;
}

/// From this many letters on, a Latin or Cyrillic guess's confidence is its lead's as it stands.
pub const confidence_letters_full = 60;

/// The confidence of a Latin or Cyrillic guess from `letters` letters, given the confidence of its
/// lead (`1 - exp(-lead / scale)`): under `confidence_letters_full` letters the scale grows with the
/// square root of how many fewer there are, so a lead of a few words counts for less. The model's
/// costs add up as if its features were independent, and the few words of a short text repeat
/// each other's evidence most; sure of itself there, it was sure and wrong: of the answers given
/// at 0.9 or more on two words, 2.5 % were wrong on text nobody tuned on, against lingua-high's
/// 0.3 %. The form and its two numbers (60 letters, the square root) minimised the log loss of
/// the confidence on the held-out split's sentences, 4- and 2-word prefixes (0.094 -> 0.068), among
/// 60 letters or 10 to 80 and powers 0.5 to 2. Unlike `tooShort`, which reads the lead's own
/// confidence, this changes no answer, only how sure it says it is.
pub fn lettersConfidence(confidence: f32, letters: u32) f32 {
    assert(confidence >= 0 and confidence <= 1);
    assert(letters > 0);
    if (letters >= confidence_letters_full) return confidence;
    const letters_float: f32 = @floatFromInt(letters);
    const scale_growth = @sqrt(@as(f32, confidence_letters_full) / letters_float);
    // 1 - exp(-lead / (scale * growth)) = 1 - (1 - confidence) ^ (1 / growth).
    const calibrated = 1 - std.math.pow(f32, 1 - confidence, 1 / scale_growth);
    assert(calibrated <= confidence + 1e-6);
    return std.math.clamp(calibrated, 0, 1);
}

const testing = std.testing;

test "lettersConfidence: lower under 60 letters, the lower the fewer; unchanged from 60 on" {
    try testing.expectEqual(@as(f32, 0.9), lettersConfidence(0.9, 60));
    try testing.expectEqual(@as(f32, 0.9), lettersConfidence(0.9, 400));
    // 15 letters: the scale doubles, so a lead worth 0.99 is worth 0.9.
    try testing.expectApproxEqAbs(@as(f32, 0.9), lettersConfidence(0.99, 15), 1e-4);
    try testing.expect(lettersConfidence(0.99, 8) < lettersConfidence(0.99, 15));
    try testing.expectEqual(@as(f32, 0), lettersConfidence(0, 5));
    try testing.expectEqual(@as(f32, 1), lettersConfidence(1, 5));
}

fn expectProse(expected: []const u8, text: []const u8) !void {
    var buffer: Buffer = undefined;
    try testing.expectEqualStrings(expected, prose(text, &buffer));
}

test "prose leaves text without code as it is" {
    const text = "Hello, how are you? Ça va bien, merci!";
    var buffer: Buffer = undefined;
    try testing.expectEqual(text.ptr, prose(text, &buffer).ptr);
    try expectProse("", "");
}

test "prose leaves out fenced blocks, inline code and code-like tokens" {
    try expectProse("请解释这段代码：\n\n\n为什么会报错？", "请解释这段代码：\n```python\ndef add(a, b):\n    return a + b\n```\n为什么会报错？");
    try expectProse("这个函数   返回什么？  ", "这个函数 foo_bar(x) 返回什么？ print(foo_bar(1))");
    try expectProse("函数 返回", "函数foo_bar(x)返回");
    try expectProse("see   and the   file", "see https://example.com/a and the `x = 1` file");
    try expectProse("unclosed \n", "unclosed ```fence and the rest");
    try expectProse("x   1", "x = 1");
    try expectProse(" 变量名 ", "`变量名`");
    // Prose punctuation stays: parentheses around words and sentence ends ("i.e." goes as code).
    try expectProse("Hello (world).   fine.", "Hello (world). i.e. fine.");
}

/// Random pieces laid end to end until the next one would not fit in `storage`.
fn randomText(random: std.Random, pieces: []const []const u8, storage: []u8) []const u8 {
    var length: usize = 0;
    while (true) {
        const piece = pieces[random.uintLessThan(usize, pieces.len)];
        if (length + piece.len > storage.len) return storage[0..length];
        @memcpy(storage[length..][0..piece.len], piece);
        length += piece.len;
    }
}

test "prose never writes more than it reads, on any bytes" {
    var prng = std.Random.DefaultPrng.init(0x9e0);
    const random = prng.random();
    const pieces = [_][]const u8{ "```", "`", "a", "_", "(", ".", "/", " ", "\n", "中", "\xff", "x(" };
    for (0..5_000) |_| {
        var storage: [256]u8 = undefined;
        const text = randomText(random, &pieces, &storage);
        var buffer: Buffer = undefined;
        const result = prose(text, &buffer);
        try testing.expect(result.len <= text.len);
        try testing.expect(std.mem.indexOfScalar(u8, result, '_') == null);
    }
}

test "isCjkText agrees with detect on every kind of text" {
    const samples = [_][]const u8{
        "",             "12345 !!", "Hello there",
        "请用中文解释量子计算",
        "東京都庁",
        "こんにちは",
        "안녕하세요",
        "Translate 你好 into English",
        "用中文解释 Kubernetes",
        "Привет мир",
        "中",
        "a中",
        "ab中",
        "\xff\xfe\xfd",
        "مرحبا بالعالم",
        "Γειά σου",
        "日本語 and English and more English words",
        "这个函数 foo_bar(x) 返回什么？ print(foo_bar(1))",
        "请解释：\n```python\nprint(add(1, 2))\n```",
    };
    for (samples) |text| {
        try std.testing.expectEqual(language.isCjk(language.detect(text).language), language.isCjkText(text));
    }
    var prng = std.Random.DefaultPrng.init(0x5eed);
    const random = prng.random();
    const pieces = [_][]const u8{ "a", "word ", "中", "日本", "の", "한", "я", "é", "\xe4", " ", "1", "ß", "ア", "`", "_", "(", "." };
    for (0..2_000) |_| {
        var storage: [64]u8 = undefined;
        const whole = randomText(random, &pieces, &storage);
        const text = whole[0..random.uintLessThan(usize, whole.len + 1)];
        try std.testing.expectEqual(language.isCjk(language.detect(text).language), language.isCjkText(text));
    }
}

test "detect: code, URLs and too few letters answer und, with no confidence" {
    const inputs = [_][]const u8{ "OK", "ok", "no", "Hi", "x = 1", "print(x)", "https://example.com/a/b", "foo_bar.baz()", "да", "`ls -la`" };
    for (inputs) |text| {
        const detection = language.detect(text);
        try testing.expectEqual(language.Language.und, detection.language);
        try testing.expectEqual(@as(f32, 0), detection.confidence);
    }
}

test "detect: the prose around code decides" {
    const cases = [_]struct { language.Language, []const u8 }{
        .{ .zh, "请解释这段代码：\n```python\ndef add(a, b):\n    return a + b\n```\n为什么会报错？" },
        .{ .zh, "这个函数 foo_bar(x) 返回什么？ print(foo_bar(1))" },
        .{ .ja, "このコードの意味は？ `for i in range(10): print(i)`" },
        .{ .ru, "Почему не работает?\n```js\nconst value = items.map((item) => item.id);\nconsole.log(value);\n```" },
        .{ .de, "Warum gibt os.path.join(a, b) hier None zurück?" },
        .{ .en, "Why does this fail?\n```\nSELECT * FROM tabla WHERE nombre = 'José';\n```" },
    };
    for (cases) |case| {
        try testing.expectEqual(case[0], language.detect(case[1]).language);
        try testing.expectEqual(language.isCjk(case[0]), language.isCjkText(case[1]));
    }
}
