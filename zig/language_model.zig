//! The character n-gram model of the languages written in the Latin, Cyrillic and Arabic alphabets: a
//! naive Bayes classifier over the 1- to 4-grams of each word (padded with a space on both sides)
//! and over whole words, trained by scripts/train_language_model.py and embedded as
//! `language_model.bin`. The Han table (Chinese against Japanese) reads runs of Han characters as
//! words, and each CJK punctuation mark as a word of its own.
//!
//! Per alphabet the model is a hash table (`language_model_table.zig`, read in place) of one u8
//! cost per language and feature: the quantised natural log-probability (`cost_per_nat` steps
//! per nat) that the language lacks against the likeliest one for that feature, times its kind's
//! weight (Latin and Cyrillic: whole words five times, 2- and 3-grams half; `FEATURE_WEIGHTS`).
//! A text's cost for a language is the sum over its features; those the table lacks are skipped. A
//! whole Latin word the Latin table lacks is looked up in a second table of words
//! (`language_model_table.latin_words`). Whole Latin words' costs are stored at half scale and
//! doubled here (`latin_word_cost_shift`), so that their u8 reaches twice as far.
//!
//! An n-gram's key is its code points packed 16 bits each into a word (`gramKey`), so that the
//! keys of all orders come from one shift register per word; a whole word is hashed by FNV-1a.
const std = @import("std");
const assert = std.debug.assert;
const script = @import("script.zig");
const language_model_table = @import("language_model_table.zig");

pub const lanes_max = language_model_table.lanes_max;
pub const Alphabet = language_model_table.Alphabet;
pub const order_max = language_model_table.order_max;
pub const word_chars_max = language_model_table.word_chars_max;
pub const cost_per_nat = language_model_table.cost_per_nat;
pub const Table = language_model_table.Table;
pub const tables = language_model_table.tables;

/// Whole Latin words' costs are stored shifted right by this (the trainer's `WORD_COST_SHIFT`):
/// weighted five times a 4-gram, a word's cost reached the u8 cap at 3.2 nats, so a word one
/// language never writes weighed little more than one two languages write at different rates.
pub const latin_word_cost_shift = 1;

const fnv_offset: u64 = 0xCBF29CE484222325;
const fnv_prime: u64 = 0x100000001B3;
/// Not a code point: seeds the hash of a whole word apart from those of n-grams.
const word_mark: u32 = 0x110000;
const space: u21 = ' ';
/// Bits per code point in an n-gram's key: its low 16 bits. Latin and Cyrillic letters all lie
/// in the Basic Multilingual Plane; a Han character beyond it keeps bits that no BMP Han shares.
const gram_bits = 16;
/// Per order, XORed into the packed n-gram so that orders never share a key (the training
/// script's `ORDER_SEEDS`).
const order_seeds: [5]u64 = seeds: {
    var seeds: [5]u64 = undefined;
    for (&seeds, 0..) |*seed, order| seed.* = order *% 0x9E3779B97F4A7C15;
    break :seeds seeds;
};

comptime {
    assert(order_max * gram_bits <= 64);
    assert(order_max < order_seeds.len);
}

/// The key of the n-gram formed by the `order` newest code points packed in `history`.
inline fn gramKey(order: usize, history: u64) u64 {
    assert(order >= 1 and order <= order_max);
    const bits: u7 = @intCast(order * gram_bits);
    const gram = if (bits == 64) history else history & ((@as(u64, 1) << @intCast(bits)) - 1);
    return gram ^ order_seeds[order];
}

/// `gramKey` of a gram given as code points, oldest first: what tests compare the register to.
fn gramKeyOf(gram: []const u21) u64 {
    var history: u64 = 0;
    for (gram) |codepoint| history = pushGram(history, codepoint);
    return gramKey(gram.len, history);
}

inline fn pushGram(history: u64, codepoint: u21) u64 {
    return history << gram_bits | @as(u16, @truncate(codepoint));
}

/// Which letters belong to the alphabet's words.
fn isLetter(alphabet: Alphabet, codepoint: u21) bool {
    if (codepoint < 0x80) return alphabet == .latin and (codepoint | 0x20) -% 'a' < 26;
    const wanted: script.Script = switch (alphabet) {
        .latin => .latin,
        .cyrillic => .cyrillic,
        .han => .han,
        .arabic => .arabic,
    };
    return script.classify(codepoint) == wanted;
}

/// The punctuation of Chinese and Japanese text: general punctuation (dashes, quotation marks),
/// the CJK Symbols and Punctuation block, the katakana middle dot and the fullwidth and halfwidth
/// forms, without the letters among them. The training script's `is_cjk_punctuation` is the same function.
pub fn isCjkPunctuation(codepoint: u21) bool {
    return switch (codepoint) {
        0x2010...0x2027, 0x30FB => true,
        0x3001...0x303F, 0xFF01...0xFF65 => script.classify(codepoint) == null,
        else => false,
    };
}

test "isCjkPunctuation: marks, not the letters of the same blocks" {
    for ([_]u21{ '、', '。', '，', '「', '」', '『', '・', '（', '！', '？', '“', '—', '―', '…' }) |mark| {
        try testing.expect(isCjkPunctuation(mark));
    }
    for ([_]u21{ '々', '〆', '〇', 'Ａ', 'ｚ', 'ｶ', 'ー', ',', '.', '中', 'あ' }) |other| {
        try testing.expect(!isCjkPunctuation(other));
    }
}

/// Lowercase for the letters of the languages modelled: ASCII, Latin-1, Latin Extended-A, the
/// Romanian comma letters, Vietnamese, Cyrillic. Other code points unchanged. The training
/// script's `lowercase` is the same function.
pub fn lowercase(codepoint: u21) u21 {
    return switch (codepoint) {
        'A'...'Z', 0xC0...0xD6, 0xD8...0xDE => codepoint + 0x20,
        0x130 => 'i', // Turkish İ
        0x100...0x12F, 0x132...0x137, 0x14A...0x177, 0x218...0x21B, 0x1E00...0x1EFF => codepoint | 1,
        0x139...0x148, 0x179...0x17E => if (codepoint & 1 == 1) codepoint + 1 else codepoint,
        0x400...0x42F, 0x490 => lowercaseCyrillic(codepoint),
        else => codepoint,
    };
}

/// `lowercase`'s Cyrillic cases, which change nothing else.
inline fn lowercaseCyrillic(codepoint: u21) u21 {
    return switch (codepoint) {
        0x400...0x40F => codepoint + 0x50,
        0x410...0x42F => codepoint + 0x20,
        0x490 => 0x491, // Ґ
        else => codepoint,
    };
}

/// `lowercase` of a letter of `alphabet`: the switch runs through its ranges in order, and
/// Cyrillic letters fall to its last cases, Han and Arabic to none (no case).
inline fn lowercaseLetter(comptime alphabet: Alphabet, codepoint: u21) u21 {
    return switch (alphabet) {
        .latin => lowercase(codepoint),
        .cyrillic => lowercaseCyrillic(codepoint),
        .han, .arabic => codepoint,
    };
}

test "lowercaseLetter agrees with lowercase on every letter of its alphabet" {
    inline for (.{ Alphabet.latin, Alphabet.cyrillic, Alphabet.han, Alphabet.arabic }) |alphabet| {
        var codepoint: u21 = 0;
        while (codepoint <= 0x10FFFF) : (codepoint += 1) {
            if (codepoint >= 0xD800 and codepoint <= 0xDFFF) continue;
            if (!isLetter(alphabet, codepoint)) continue;
            try testing.expectEqual(lowercase(codepoint), lowercaseLetter(alphabet, codepoint));
        }
    }
}

/// murmur3's fmix64: slot and fingerprint bits independent of each other.
fn mix(value: u64) u64 {
    var hash = value;
    hash ^= hash >> 33;
    hash *%= 0xFF51AFD7ED558CCD;
    hash ^= hash >> 33;
    hash *%= 0xC4CEB9FE1A85EC53;
    hash ^= hash >> 33;
    return hash;
}

/// Scoring stops at the end of a word once this many bytes were read and the leader is ahead by
/// `decisive_margin_nats`. Lookups are most of the cost of a sentence, so this is most of the
/// speed. Tuned by scripts/tune_early_stop.py on training sentences (never the held-out ones):
/// against the former 64 bytes and 25 nats, a lead of 70 nats after 16 bytes halved the lookups
/// (198 to 99 per sentence) for 0.02 points of accuracy there (99.95 to 99.93 %). Since whole
/// words weigh five times their 4-grams (the trainer's `FEATURE_WEIGHTS`), a few English words
/// opening a sentence ("Blue Sky Thinking: Rajoittamaton, ...") reach 70 nats: 150 brings those
/// sentences back to 99.93 % (70: 99.75, 90: 99.86, 120: 99.91) for 147 lookups per sentence.
/// With whole Latin words' costs doubled (`latin_word_cost_shift`), 150 is still where accuracy
/// stops rising (99.93 %; 200, 250 and 300 the same), for 133 lookups per sentence.
pub const decisive_bytes_min = 16;
pub const decisive_margin_nats = 150;

/// Sum of costs per language. A window of 64 KiB yields at most 6 features per byte at 255 each.
pub fn Totals(comptime alphabet: Alphabet) type {
    return @Vector(tables[@backingInt(alphabet)].lanes, u32);
}

pub fn Score(comptime alphabet: Alphabet) type {
    return struct {
        totals: Totals(alphabet),
        /// Features found in the table.
        features: u32,
        /// Bytes of the window read before the lead was decisive (all of it when it never was).
        bytes_read: usize,
    };
}

/// Scores `window` for each language of `alphabet`'s table: the lower the total, the likelier.
pub fn score(comptime alphabet: Alphabet, window: []const u8) Score(alphabet) {
    var state: WordState(alphabet) = .{};
    var iterator: script.Utf8Lossy = .{ .bytes = window };
    while (iterator.index < window.len) {
        // ASCII, most of Latin text, without the decoder's call: letters are lowercased by one
        // bit, and only the Latin table has ASCII letters.
        const byte = window[iterator.index];
        const ascii_letter = byte < 0x80 and (byte | 0x20) -% 'a' < 26;
        if (ascii_letter and alphabet == .latin) {
            iterator.index += 1;
            state.letter(byte | 0x20);
            continue;
        }
        const codepoint = if (byte < 0x80) ascii: {
            iterator.index += 1;
            break :ascii byte;
        } else iterator.next() orelse break;
        if (!ascii_letter and isLetter(alphabet, codepoint)) {
            state.letter(lowercaseLetter(alphabet, codepoint));
            continue;
        }
        // Each CJK punctuation mark is a word of its own in the Han table: Chinese and Japanese
        // punctuate differently (、 against ，, 「」 against “”).
        const punctuation = alphabet == .han and isCjkPunctuation(codepoint);
        if (state.length == 0 and !punctuation) continue;
        if (state.length > 0) state.end();
        if (punctuation) {
            state.letter(codepoint);
            state.end();
        }
        if (iterator.index >= decisive_bytes_min and state.decisive()) break;
    }
    if (state.length > 0) state.end();
    return .{ .totals = state.totals, .features = state.features, .bytes_read = iterator.index };
}

/// The word being read: its last `order_max` code points (the leading space included) and the
/// hash of the whole word so far.
fn WordState(comptime alphabet: Alphabet) type {
    return struct {
        const State = @This();
        const table = &tables[@backingInt(alphabet)];
        totals: Totals(alphabet) = @splat(0),
        features: u32 = 0,
        /// The newest code points of the padded word, 16 bits each, the newest lowest.
        history: u64 = space,
        /// Code points in the word, the leading space not counted.
        length: usize = 0,
        word_hash: u64 = 0,
        /// Features queued since the last `flush`: at most `order_max` per letter and
        /// `order_max` + 1 at the end of a word.
        pending: [pending_max]u64 = undefined,
        pending_count: usize = 0,

        const pending_max = 64;
        comptime {
            assert(pending_max >= 2 * order_max + 1);
        }

        /// Queues a feature; `flush` looks the queue up.
        fn add(state: *State, key: u64) void {
            assert(state.pending_count < pending_max);
            const mixed = mix(key);
            table.prefetch(mixed);
            state.pending[state.pending_count] = mixed;
            state.pending_count += 1;
        }

        fn flush(state: *State) void {
            for (state.pending[0..state.pending_count]) |key| {
                const costs = table.lookup(key) orelse continue;
                state.totals += @as(Totals(alphabet), costs);
                state.features += 1;
            }
            state.pending_count = 0;
        }

        fn push(state: *State, codepoint: u21) void {
            state.history = pushGram(state.history, codepoint);
        }

        /// Adds the n-grams that end at the newest code point, of orders `order_first` up to what
        /// the padded word so far (`padded_length` code points) holds.
        fn addGrams(state: *State, order_first: usize, padded_length: usize) void {
            var order = order_first;
            while (order <= @min(order_max, padded_length)) : (order += 1) {
                state.add(gramKey(order, state.history));
            }
        }

        fn letter(state: *State, codepoint: u21) void {
            if (state.length == 0) {
                state.history = space;
                state.word_hash = (fnv_offset ^ word_mark) *% fnv_prime;
            }
            if (state.pending_count + order_max > pending_max) state.flush();
            state.push(codepoint);
            state.length += 1;
            state.word_hash = (state.word_hash ^ codepoint) *% fnv_prime;
            state.addGrams(1, state.length + 1);
        }

        fn end(state: *State) void {
            assert(state.length > 0);
            if (state.pending_count + order_max + 1 > pending_max) state.flush();
            state.push(space);
            state.addGrams(2, state.length + 2); // The closing space alone is not a feature.
            const whole_word = state.length <= word_chars_max;
            if (whole_word and alphabet != .latin) state.add(state.word_hash);
            if (whole_word and alphabet == .latin) {
                const key = mix(state.word_hash);
                table.prefetch(key);
                language_model_table.latin_words.prefetch(key);
                state.flush();
                state.addWord(key);
            } else {
                state.flush();
            }
            state.length = 0;
        }

        /// A whole Latin word: from the Latin table, or else from the table of the words it had
        /// no room for.
        fn addWord(state: *State, key: u64) void {
            comptime assert(alphabet == .latin);
            const costs = table.lookup(key) orelse language_model_table.latin_words.lookup(key) orelse return;
            state.totals += @as(Totals(alphabet), costs) << @splat(latin_word_cost_shift);
            state.features += 1;
        }

        /// Whether the leader is `decisive_margin_nats` ahead of every other language: `rank`'s
        /// margin, without its scalar loop over the lanes (this runs at the end of every word).
        fn decisive(state: *const State) bool {
            const Lanes = Totals(alphabet);
            const unused: Lanes = @splat(std.math.maxInt(u32));
            const totals = @select(u32, used_lanes, state.totals, unused);
            const best = @reduce(.Min, totals);
            const margin: u32 = decisive_margin_nats * cost_per_nat;
            // Totals stay far below maxInt(u32) - margin: at most 6 features per byte of 64 KiB, 255 each.
            const close: @Int(.unsigned, table.lanes) = @bitCast(totals < @as(Lanes, @splat(best + margin)));
            return @popCount(close) == 1;
        }

        const used_lanes: @Vector(table.lanes, bool) = mask: {
            var used: [table.lanes]bool = undefined;
            for (&used, 0..) |*lane, index| lane.* = index < table.languages_count;
            break :mask used;
        };
    };
}

pub const Ranked = struct { lane_best: u8, cost_best: u32, cost_second: u32 };

/// The cheapest lane among the first `languages_count` and the cost of the runner-up. Ties go to
/// the lower lane.
pub fn rank(comptime alphabet: Alphabet, totals_vector: Totals(alphabet)) Ranked {
    const table = &tables[@backingInt(alphabet)];
    const languages_count = table.languages_count;
    comptime assert(languages_count >= 2);
    const totals: [table.lanes]u32 = totals_vector;
    var ranked: Ranked = .{ .lane_best = 0, .cost_best = totals[0], .cost_second = std.math.maxInt(u32) };
    for (1..languages_count) |lane| {
        const cost = totals[lane];
        if (cost < ranked.cost_best) {
            ranked.cost_second = ranked.cost_best;
            ranked.cost_best = cost;
            ranked.lane_best = @intCast(lane);
        } else if (cost < ranked.cost_second) {
            ranked.cost_second = cost;
        }
    }
    assert(ranked.cost_best <= ranked.cost_second);
    return ranked;
}

const testing = std.testing;

test "model: frequent features are held, a made-up one is not" {
    const latin = comptime &tables[@backingInt(Alphabet.latin)];
    // " the" as a 4-gram: frequent English.
    const the = latin.lookup(mix(gramKeyOf(&.{ ' ', 't', 'h', 'e' }))).?;
    try testing.expectEqual(@as(u8, 0), the[0]);
    try testing.expect(the[1] > 0); // German pays for it.
    try testing.expectEqual(@as(?@Vector(16, u8), null), latin.lookup(mix(gramKeyOf(&.{ 'q', 'x', 'z', 'j' }))));
}

test "model: a whole word the Latin table had no room for is in the word table" {
    const latin = comptime &tables[@backingInt(Alphabet.latin)];
    const word = "valid";
    var hash: u64 = (fnv_offset ^ word_mark) *% fnv_prime;
    for (word) |letter| hash = (hash ^ letter) *% fnv_prime;
    const key = mix(hash);
    try testing.expectEqual(@as(?@Vector(16, u8), null), latin.lookup(key));
    const costs = language_model_table.latin_words.lookup(key).?;
    try testing.expectEqual(@as(u8, 0), costs[0]); // English's.
    try testing.expect(costs[1] > 0); // German pays for it.
}

test "score: stops early on long text once the lead is decisive" {
    const sentence = "the weather is fine today and we will walk to the river. ";
    var buffer: [sentence.len * 40]u8 = undefined;
    for (0..40) |index| @memcpy(buffer[index * sentence.len ..][0..sentence.len], sentence);
    const text: []const u8 = &buffer;
    const result = score(.latin, text);
    try testing.expect(result.bytes_read < text.len);
    try testing.expect(result.bytes_read >= decisive_bytes_min);
    const ranked = rank(.latin, result.totals);
    try testing.expectEqual(@as(u8, 0), ranked.lane_best);
}

test "decisive: the leader's margin over the runner-up, as rank computes it" {
    var prng = std.Random.DefaultPrng.init(0xdec1);
    const random = prng.random();
    const margin = decisive_margin_nats * cost_per_nat;
    inline for (.{ Alphabet.latin, Alphabet.cyrillic, Alphabet.han, Alphabet.arabic }) |alphabet| {
        for (0..20_000) |_| {
            var state: WordState(alphabet) = .{};
            var totals: [tables[@backingInt(alphabet)].lanes]u32 = undefined;
            // Totals close together, so that margins near the threshold and ties are frequent.
            const base = random.uintLessThan(u32, 1_000_000);
            for (&totals) |*total| total.* = base + random.uintLessThan(u32, 2 * margin + 2);
            state.totals = totals;
            const ranked = rank(alphabet, state.totals);
            try testing.expectEqual(ranked.cost_second - ranked.cost_best >= margin, state.decisive());
        }
    }
}

test "score: no letters of the alphabet, no features" {
    const result = score(.cyrillic, "hello 123 world");
    try testing.expectEqual(@as(u32, 0), result.features);
    try testing.expectEqual(@as(u32, 0), @reduce(.Max, result.totals));
}

test "score: a word longer than the feature queue scores as its features looked up one by one" {
    // 40 letters queue some 160 features, more than `pending_max`: the queue is flushed mid-word.
    const word = "pneumonoultramicroscopicsilicovolcanoses";
    const table = comptime &tables[@backingInt(Alphabet.latin)];
    var padded: [word.len + 2]u21 = undefined;
    padded[0] = space;
    padded[padded.len - 1] = space;
    for (word, padded[1 .. padded.len - 1]) |letter, *codepoint| codepoint.* = letter;
    var expected: Totals(.latin) = @splat(0);
    var features: u32 = 0;
    for (1..padded.len + 1) |end| {
        for (1..order_max + 1) |order| {
            if (order > end) break;
            const gram = padded[end - order .. end];
            if (order == 1 and gram[0] == space) continue;
            const costs = table.lookup(mix(gramKeyOf(gram))) orelse continue;
            expected += @as(Totals(.latin), costs);
            features += 1;
        }
    }
    comptime assert(word.len > word_chars_max); // No whole-word feature.
    const result = score(.latin, word);
    try testing.expectEqual(features, result.features);
    try testing.expect(features > 64);
    try testing.expect(@reduce(.And, expected == result.totals));
}
