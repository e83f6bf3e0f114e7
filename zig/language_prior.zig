//! Priors of the languages that one table of the n-gram model decides between: where the text's
//! evidence favours neither of two close languages (words both write: "حذف", "Квадрат модуля",
//! "Мир на"), the more spoken one. A language's prior is the log of how many times more
//! speakers the table's most spoken language has, added to its cost. Taken from speaker counts:
//! - Arabic has about four and a half times Persian's speakers: ln 4.5 is 1.5 nats, not measured
//!   on any test set.
//! - Russian has about 150 million native speakers, Ukrainian 30 and Bulgarian 8: ln 5 and ln 19,
//!   1.6 and 2.9 nats. Checked on the held-out split (Cyrillic 4 / 2 words 99.31 / 94.21 ->
//!   99.48 / 94.39 %, ru->bg 3 / 5 -> 2 / 4; the counts of all speakers, 255, 40 and 8 million,
//!   did no better), not on other text.
const std = @import("std");
const assert = std.debug.assert;
const language_model = @import("language_model.zig");

const Alphabet = language_model.Alphabet;

fn priorNats(comptime alphabet: Alphabet) [language_model.tables[@backingInt(alphabet)].lanes]f32 {
    return switch (alphabet) {
        .arabic => .{ 0, 1.5, 0, 0 }, // ar, fa
        .cyrillic => .{ 0, @log(150.0 / 30.0), @log(150.0 / 8.0), 0 }, // ru, uk, bg
        .latin, .han => @splat(0),
    };
}

/// Each lane's prior in the model's cost steps, to add to the lane's total.
pub fn priorCosts(comptime alphabet: Alphabet) language_model.Totals(alphabet) {
    const costs = comptime costs: {
        const nats = priorNats(alphabet);
        var result: [nats.len]u32 = undefined;
        for (&result, nats) |*cost, prior| {
            assert(prior >= 0);
            cost.* = @intFromFloat(@round(prior * @as(f32, @floatFromInt(language_model.cost_per_nat))));
        }
        break :costs result;
    };
    return costs;
}

comptime {
    // The lanes that priorNats names.
    const arabic = language_model.tables[@backingInt(Alphabet.arabic)].codes;
    const cyrillic = language_model.tables[@backingInt(Alphabet.cyrillic)].codes;
    for ([_]*const [2]u8{ "ar", "fa" }, arabic[0..2]) |expected, code| assert(std.mem.eql(u8, expected, &code));
    for ([_]*const [2]u8{ "ru", "uk", "bg" }, cyrillic[0..3]) |expected, code| assert(std.mem.eql(u8, expected, &code));
}

test "priorCosts: in cost steps, none for the most spoken language" {
    try std.testing.expectEqual(@as(u32, 24), priorCosts(.arabic)[1]);
    try std.testing.expectEqual(@as(u32, 0), priorCosts(.cyrillic)[0]);
    try std.testing.expectEqual(@as(u32, 26), priorCosts(.cyrillic)[1]);
    try std.testing.expectEqual(@as(u32, 47), priorCosts(.cyrillic)[2]);
    try std.testing.expectEqual(@as(u32, 0), @reduce(.Max, priorCosts(.latin)));
}
