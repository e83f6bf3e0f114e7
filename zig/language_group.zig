//! Which script group a text is written in: the letters of scripts that decide between the same
//! languages are pooled (Han, kana and Hangul are one group), and CJK characters weigh more than
//! alphabetic letters, since one carries several letters' worth of text. `language.zig` then
//! hands the text to that group's decider.
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const Script = script.Script;

/// Han, kana and Hangul weigh this many letters when choosing the dominant script. An English
/// word averages about 4.7 letters and a Chinese one about 1.5 characters, so a CJK character
/// carries three letters' worth of text or more; 4 rather than 3 because prompts that mix the two
/// are mostly CJK prose around Latin names and terms, whose letters are many and say little
/// ("什么是chatterbot", "Dockerとは", "Git rebase 사용법", "如何在 React 中使用 useEffect hook？"),
/// and because the two mistakes differ in cost: a CJK prompt taken for English loses the CJK
/// route, while an English one that quotes a CJK word at length ("How do I say こんにちは
/// politely?", now Japanese) is still answered well there. "Translate 你好 into English" and
/// "What does 我爱你 mean?" stay English. (2 took "这些协议是 HTTP、HTTPS、FTP 和 SOCKS。" for
/// Latin text, and so for Swedish; 3 took the four above for Latin languages.)
const cjk_letter_weight = 4;

/// Scripts that decide between the same languages are grouped: Han, kana and Hangul are one.
pub const Group = enum { latin, cyrillic, greek, arabic, hebrew, devanagari, thai, cjk, other };

pub const Dominant = struct {
    group: Group,
    /// Letters of the group, unweighted.
    letters: u32,
    /// The group's share of the weighted letters.
    share: f32,
};

fn groupOf(letters_script: Script) Group {
    return switch (letters_script) {
        .latin => .latin,
        .cyrillic => .cyrillic,
        .greek => .greek,
        .arabic => .arabic,
        .hebrew => .hebrew,
        .devanagari => .devanagari,
        .thai => .thai,
        .hangul, .hiragana, .katakana, .han => .cjk,
        .other => .other,
    };
}

pub fn dominantGroup(counts: script.Counts) Dominant {
    const group_count = @typeInfo(Group).@"enum".field_names.len;
    // Unrolled with the groups known at compile time, so that the sums stay in registers.
    var letters: [group_count]u64 = @splat(0);
    inline for (0..script.script_count) |index| {
        const group = comptime groupOf(@fromBackingInt(@as(u8, index)));
        letters[@backingInt(group)] += counts.letters[index];
    }
    var weighted_total: u64 = 0;
    var weighted: [group_count]u64 = undefined;
    inline for (&weighted, letters, 0..) |*value, group_letters, index| {
        const weight: u64 = if (index == @backingInt(Group.cjk)) cjk_letter_weight else 1;
        value.* = weight * group_letters;
        weighted_total += value.*;
    }
    assert(weighted_total > 0);
    // Ties go to the earlier group, so the choice does not depend on anything but the counts.
    var best: usize = 0;
    inline for (weighted, 0..) |value, index| {
        if (value > weighted[best]) best = index;
    }
    return .{
        .group = @fromBackingInt(@intCast(best)),
        .letters = @intCast(letters[best]),
        .share = @as(f32, @floatFromInt(weighted[best])) / @as(f32, @floatFromInt(weighted_total)),
    };
}


const testing = std.testing;

fn groupOfText(text: []const u8) Dominant {
    return dominantGroup(script.count(text));
}

test "dominantGroup: one script gives its group, every letter and the whole share" {
    const dominant = groupOfText("Привет, как дела?");
    try testing.expectEqual(Group.cyrillic, dominant.group);
    try testing.expectEqual(@as(u32, 13), dominant.letters);
    try testing.expectEqual(@as(f32, 1), dominant.share);
}

test "dominantGroup: Han, kana and Hangul are one group, weighed per character" {
    // 2 kana and 1 Hangul pooled: 3 characters at the CJK weight against 5 Latin letters.
    const dominant = groupOfText("hello です요");
    try testing.expectEqual(Group.cjk, dominant.group);
    try testing.expectEqual(@as(u32, 3), dominant.letters);
    const weighted: f32 = 3 * cjk_letter_weight;
    try testing.expectApproxEqAbs(weighted / (weighted + 5), dominant.share, 1e-6);
}

test "dominantGroup: a tie goes to the earlier group" {
    // One Greek and one Hebrew letter: Greek comes first in `Group`.
    try testing.expectEqual(Group.greek, groupOfText("α א").group);
}
