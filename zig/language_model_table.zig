//! The embedded model file (`language_model.bin`, written by scripts/train_language_model.py):
//! its header, checked and parsed at comptime, and the lookup of a feature's costs in one
//! alphabet's table. What the tables hold and how a text is scored is `language_model.zig`'s.
//!
//! Per alphabet the model is an open-addressing hash table of 2^k slots in buckets of 8: a 16-bit
//! fingerprint per slot, and per slot one u8 cost per language. A key lives in its home bucket
//! or, when that was full, in the first bucket after it with room: a lookup compares a bucket's
//! eight fingerprints at once and stops at the first bucket with a match or an empty slot.
//! Lookups read the table in place: no allocation, no start-up work.
const std = @import("std");
const assert = std.debug.assert;
const native_endian = @import("builtin").cpu.arch.endian();

/// Aligned so that a bucket's fingerprints never straddle a cache line (the arrays start at
/// multiples of `data_alignment` within the file).
const blob: [model_file.len]u8 align(data_alignment) = model_file.*;
const model_file = @embedFile("language_model.bin");

/// Languages a table may hold, and the widest slot.
pub const lanes_max = 16;

/// Latin and Cyrillic words; Han runs (for Chinese against Japanese written in kanji); Arabic-script
/// words (Arabic against Persian).
pub const Alphabet = enum(u8) { latin, cyrillic, han, arabic };

const magic = "THLM";
const format_version = 6; // 6: whole Latin words' costs at half scale (language_model.latin_word_cost_shift)
const header_bytes = 10;
const table_header_bytes = 4 + 2 * lanes_max;
const data_alignment = 64;
const bucket_slots = 8;
const bucket_bits = std.math.log2_int(usize, bucket_slots);
const Fingerprints = @Vector(bucket_slots, u16);
const BucketBits = @Int(.unsigned, bucket_slots);

/// Fields of the file's header; the layout is written by `model_bytes` in the training script.
pub const order_max: usize = blob[6];
pub const word_chars_max: usize = blob[7];
pub const cost_per_nat: u32 = blob[8];
const table_count: usize = blob[9];

pub const Table = struct {
    /// The languages of the lanes, as two-letter codes; lanes past `languages_count` are unused.
    codes: [lanes_max][2]u8,
    languages_count: u8,
    /// Cost bytes per slot: a vector width, at least `languages_count`.
    lanes: u8,
    slots_log2: u6,
    fingerprints_offset: usize,
    costs_offset: usize,

    fn slotCount(table: *const Table) usize {
        return @as(usize, 1) << table.slots_log2;
    }

    fn bucketCount(table: *const Table) usize {
        return table.slotCount() >> bucket_bits;
    }

    /// The bucket where the search for `key` starts.
    fn home(comptime table: *const Table, key: u64) usize {
        return @intCast(key >> @intCast(64 - @as(u7, table.slots_log2 - bucket_bits)));
    }

    /// Asks for the cache lines that `lookup(key)` reads first: issued for all the features of a
    /// word before any is looked up, the misses overlap instead of following one another.
    pub fn prefetch(comptime table: *const Table, key: u64) void {
        const bucket = table.home(key);
        @prefetch(blob[table.fingerprints_offset + 2 * bucket_slots * bucket ..].ptr, .{});
        const costs = blob[table.costs_offset + table.lanes * bucket_slots * bucket ..];
        // A bucket's costs span two lines in the widest table.
        inline for (0..(@as(usize, table.lanes) * bucket_slots + 63) / 64) |line| @prefetch(costs[64 * line ..].ptr, .{});
    }

    /// The costs of the feature with hash `key`, or null when the table does not hold it.
    pub fn lookup(comptime table: *const Table, key: u64) ?@Vector(table.lanes, u8) {
        const mask = table.bucketCount() - 1;
        const fingerprint: u16 = @as(u16, @truncate(key)) | @intFromBool(@as(u16, @truncate(key)) == 0);
        const wanted: Fingerprints = @splat(fingerprint);
        var bucket = table.home(key);
        // The table is at most 3/4 full, so a search ends at a bucket with an empty slot long
        // before it wraps around; the bound only makes that explicit.
        for (0..table.bucketCount()) |_| {
            const first_slot = bucket * bucket_slots;
            // One aligned vector load: the arrays start on cache lines and a bucket is 16 bytes.
            const bucket_bytes: *align(2 * bucket_slots) const Fingerprints = @ptrCast(@alignCast(&blob[table.fingerprints_offset + 2 * first_slot]));
            var stored = bucket_bytes.*;
            if (native_endian == .big) stored = @byteSwap(stored);
            const matches: BucketBits = @bitCast(stored == wanted);
            if (matches != 0) {
                const slot = first_slot + @ctz(matches);
                return blob[table.costs_offset + table.lanes * slot ..][0..table.lanes].*;
            }
            const empty: BucketBits = @bitCast(stored == @as(Fingerprints, @splat(0)));
            if (empty != 0) return null;
            bucket = (bucket + 1) & mask;
        }
        unreachable;
    }
};

pub const tables: [table_count]Table = parse: {
    @setEvalBranchQuota(1_000_000);
    assert(std.mem.eql(u8, blob[0..4], magic));
    assert(std.mem.readInt(u16, blob[4..6], .little) == format_version);
    assert(order_max >= 1 and order_max <= 4);
    assert(word_chars_max >= 1);
    assert(cost_per_nat >= 1);
    var result: [table_count]Table = undefined;
    var data_offset = std.mem.alignForward(usize, header_bytes + table_count * table_header_bytes, data_alignment);
    for (&result, 0..) |*table, index| {
        const header = blob[header_bytes + index * table_header_bytes ..][0..table_header_bytes];
        assert(header[0] == index); // Tables are stored in `Alphabet` order.
        assert(header[1] >= 2 and header[1] <= lanes_max);
        assert(header[2] >= 8 and header[2] <= 24); // At least 256 slots: arrays of whole lines.
        assert(header[3] >= header[1] and header[3] <= lanes_max);
        assert(std.math.isPowerOfTwo(header[3])); // A vector of the table's costs per slot.
        table.languages_count = header[1];
        table.lanes = header[3];
        table.slots_log2 = @intCast(header[2]);
        for (&table.codes, 0..) |*language_code, lane| language_code.* = header[4 + 2 * lane ..][0..2].*;
        assert(data_offset % data_alignment == 0);
        table.fingerprints_offset = data_offset;
        data_offset += 2 * table.slotCount();
        table.costs_offset = data_offset;
        data_offset += @as(usize, table.lanes) * table.slotCount();
    }
    assert(data_offset == blob.len); // Nothing missing, nothing left over.
    break :parse result;
};

const alphabet_count = @typeInfo(Alphabet).@"enum".field_names.len;

comptime {
    // One table per alphabet, in `Alphabet` order, then the Latin words'.
    assert(table_count == alphabet_count + 1);
    assert(latin_words.languages_count == tables[@backingInt(Alphabet.latin)].languages_count);
    assert(latin_words.lanes == tables[@backingInt(Alphabet.latin)].lanes);
    for (latin_words.codes, tables[@backingInt(Alphabet.latin)].codes) |word_code, letter_code| {
        assert(std.mem.eql(u8, &word_code, &letter_code));
    }
}

/// Whole Latin words that the Latin table had no room for (the training script's
/// `WORD_SLOTS_LOG2`), with the same lanes: a word the Latin table lacks is looked up here.
pub const latin_words: *const Table = &tables[alphabet_count];

const testing = std.testing;

test "model: header and tables are consistent" {
    try testing.expectEqual(@as(usize, 5), tables.len);
    try testing.expectEqualStrings("ar", &tables[@backingInt(Alphabet.arabic)].codes[0]);
    try testing.expectEqualStrings("fa", &tables[@backingInt(Alphabet.arabic)].codes[1]);
    try testing.expectEqualStrings("zh", &tables[@backingInt(Alphabet.han)].codes[0]);
    try testing.expectEqualStrings("en", &tables[@backingInt(Alphabet.latin)].codes[0]);
    try testing.expectEqualStrings("ru", &tables[@backingInt(Alphabet.cyrillic)].codes[0]);
    // About 3.74 MB: Latin 2^17 slots of 16 costs, Cyrillic 2^16, Han and Arabic 2^15 of 4, Latin
    // words 2^15 of 16.
    try testing.expect(blob.len <= 3_800_000);
}

test "model: the tables start on cache lines, so that no bucket straddles two" {
    try testing.expectEqual(@as(usize, 0), @intFromPtr(&blob) % data_alignment);
    for (tables) |table| {
        try testing.expectEqual(@as(usize, 0), table.fingerprints_offset % data_alignment);
        try testing.expectEqual(@as(usize, 0), table.costs_offset % data_alignment);
    }
}
