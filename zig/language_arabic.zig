//! Arabic script: Arabic or Persian where the n-gram model's Arabic-script table holds nothing
//! of the text (`language.zig`'s `decideArabicScript` asks it first): letters that only Persian
//! (پ چ ژ گ ک ی, the non-joiner, the hamza above) or only Arabic (ة ى ي ك) writes, a few function
//! words, and Arabic's article "ال" decide.
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const language_module = @import("language.zig");

const Language = language_module.Language;
const Guess = language_module.Guess;

/// A set of languages as a bit mask indexed by `Language`.
const LanguageSet = u32;

fn set(languages: []const Language) LanguageSet {
    var mask: LanguageSet = 0;
    for (languages) |language| mask |= @as(LanguageSet, 1) << @intCast(@backingInt(language));
    return mask;
}

/// Points per language: letters and words that only Arabic or only Persian writes.
pub const ArabicScores = struct { ar: f32 = 0, fa: f32 = 0 };

/// The filters: letters that only one of the two writes.
fn arabicLetterLanguage(codepoint: u21) ?Language {
    return switch (codepoint) {
        // Also the zero-width non-joiner ("می‌روم") and the hamza above ("خانهٔ"): Arabic uses neither.
        'پ', 'چ', 'ژ', 'گ', 'ک', 'ی', '\u{200C}', '\u{0654}' => .fa,
        'ة', 'ى', 'ي', 'ك' => .ar,
        else => null,
    };
}

/// Scores Arabic against Persian over `window`: one point per filter letter, one per function word.
pub fn scoreArabic(window: []const u8) ArabicScores {
    var scores: ArabicScores = .{};
    var word: Word = .{};
    var iterator: script.Utf8Lossy = .{ .bytes = window };
    while (iterator.next()) |codepoint| {
        if (arabicLetterLanguage(codepoint)) |language| addArabic(&scores, set(&.{language}));
        if (script.classify(codepoint) == .arabic) {
            word.append(codepoint);
        } else {
            addArabic(&scores, word.languages());
            word = .{};
        }
    }
    addArabic(&scores, word.languages());
    return scores;
}

fn addArabic(scores: *ArabicScores, languages: LanguageSet) void {
    if (languages == 0) return;
    const points = 1.0 / @as(f32, @floatFromInt(@popCount(languages)));
    if (languages & set(&.{.ar}) != 0) scores.ar += points;
    if (languages & set(&.{.fa}) != 0) scores.fa += points;
}

/// Arabic unless Persian has more evidence. Confidence grows with the evidence of the winner and
/// with its margin over the other.
pub fn decideArabic(scores: ArabicScores) Guess {
    const language: Language = if (scores.fa > scores.ar) .fa else .ar;
    const score_best = @max(scores.ar, scores.fa);
    // Without evidence, Arabic (the script's most common language) at even odds.
    if (score_best == 0) return .{ .language = .ar, .confidence = 0.5 };
    const margin = (score_best - @min(scores.ar, scores.fa)) / score_best;
    const evidence = score_best / (score_best + 1);
    return .{ .language = language, .confidence = evidence * (0.4 + 0.6 * margin) };
}

const word_bytes_max = 24;

/// A word being read; words longer than any function word are never looked up.
const Word = struct {
    bytes: [word_bytes_max]u8 = undefined,
    length: u8 = 0,
    too_long: bool = false,

    fn append(word: *Word, codepoint: u21) void {
        var encoded: [4]u8 = undefined;
        const length = std.unicode.utf8Encode(codepoint, &encoded) catch unreachable; // A decoded code point.
        if (word.length + length > word_bytes_max) {
            word.too_long = true;
            return;
        }
        @memcpy(word.bytes[word.length..][0..length], encoded[0..length]);
        word.length += length;
    }

    fn languages(word: *const Word) LanguageSet {
        if (word.too_long or word.length == 0) return 0;
        const listed = lookupWord(word.bytes[0..word.length]);
        if (listed != 0) return listed;
        // Arabic's article: most Arabic sentences have a word "ال..."; Persian keeps it in a few
        // loans, the frequent ones listed above.
        const article = "ال";
        const starts = std.mem.startsWith(u8, word.bytes[0..word.length], article);
        return if (starts and word.length >= 2 * article.len) set(&.{.ar}) else 0;
    }
};

/// Very frequent words. A word listed for both languages counts for each, split.
const function_word_lists = [_]struct { language: Language, words: []const u8 }{
    .{ .language = .ar, .words = "في من على إلى أن هذا هذه التي الذي كان ما لا عن مع" },
    .{ .language = .fa, .words = "در از به که این را با است آن برای های می یک شود" },
    // Everyday Persian without a letter only Persian writes, and its words that begin with "ال".
    .{ .language = .fa, .words = "من تو شما تا ها شد بود خود اگر دارم ندارم دارد ندارد شده آره بده حالا البته الان" },
};

const WordSlot = struct {
    bytes: [word_bytes_max]u8 = @splat(0),
    length: u8 = 0,
    languages: LanguageSet = 0,
};

/// Open addressing with linear probing; at most half full, so lookups end after a few probes.
const word_slot_count = 128;

fn hashWord(bytes: []const u8) u32 {
    var hash: u32 = 0x811C9DC5; // FNV-1a
    for (bytes) |byte| hash = (hash ^ byte) *% 0x01000193;
    return hash;
}

const function_words: [word_slot_count]WordSlot = table: {
    @setEvalBranchQuota(200_000);
    var slots: [word_slot_count]WordSlot = @splat(.{});
    var used: usize = 0;
    for (function_word_lists) |list| {
        var words = std.mem.tokenizeScalar(u8, list.words, ' ');
        while (words.next()) |word| {
            assert(word.len <= word_bytes_max);
            var index = hashWord(word) % word_slot_count;
            while (slots[index].length != 0 and
                !std.mem.eql(u8, slots[index].bytes[0..slots[index].length], word))
            {
                index = (index + 1) % word_slot_count;
            }
            if (slots[index].length == 0) used += 1;
            slots[index].bytes[0..word.len].* = word[0..word.len].*;
            slots[index].length = word.len;
            slots[index].languages |= set(&.{list.language});
        }
    }
    assert(used * 2 <= word_slot_count);
    break :table slots;
};

fn lookupWord(word: []const u8) LanguageSet {
    assert(word.len > 0);
    assert(word.len <= word_bytes_max);
    var index = hashWord(word) % word_slot_count;
    for (0..word_slot_count) |_| {
        const slot = &function_words[index];
        if (slot.length == 0) return 0;
        if (slot.length == word.len and std.mem.eql(u8, slot.bytes[0..slot.length], word)) {
            return slot.languages;
        }
        index = (index + 1) % word_slot_count;
    }
    unreachable; // The table is at most half full.
}

test "Persian without a letter only Persian writes, and Arabic by its article" {
    const cases = [_]struct { Language, []const u8 }{
        .{ .fa, "من احساست دارم" },
        .{ .fa, "تا حالا" },
        .{ .fa, "ماشین\u{200C}حساب" },
        .{ .fa, "البته" },
        .{ .ar, "المدرسة" },
        .{ .ar, "الكتاب الجديد" },
        .{ .ar, "ذهبت إلى المدرسة في الصباح" },
    };
    for (cases) |case| try std.testing.expectEqual(case[0], decideArabic(scoreArabic(case[1])).language);
}
