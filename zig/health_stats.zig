//! The latency statistics of one provider's entry on the board: the histogram's buckets, and
//! the percentiles read from it. The other counters (calls, tokens, cost, the EWMA) are plain
//! sums kept by `Board.recordSuccess` and `Board.recordFailure` in `health.zig`; the tests here
//! check them all through the board.
const std = @import("std");
const assert = std.debug.assert;

const catalogue = @import("catalogue.zig");
const health = @import("health.zig");
const health_breaker = @import("health_breaker.zig");

const ProviderId = catalogue.ProviderId;
const Board = health.Board;
const FailureKind = health.FailureKind;
const failTransient = health_breaker.failTransient;

/// Upper bounds (inclusive) of the latency histogram's buckets. Bucket 0 covers [0, 5]; bucket i
/// covers (upper[i - 1], upper[i]]. The last bucket is unbounded.
pub const latency_bucket_upper_ms = [_]u32{
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    std.math.maxInt(u32),
};
pub const latency_bucket_count = latency_bucket_upper_ms.len;

comptime {
    assert(latency_bucket_upper_ms[0] > 0);
    for (1..latency_bucket_count) |bucket| {
        assert(latency_bucket_upper_ms[bucket - 1] < latency_bucket_upper_ms[bucket]);
    }
    // Every u32 latency lands in some bucket.
    assert(latency_bucket_upper_ms[latency_bucket_count - 1] == std.math.maxInt(u32));
}

pub fn bucketIndex(latency_ms: u32) usize {
    for (latency_bucket_upper_ms, 0..) |upper_ms, bucket| {
        if (latency_ms <= upper_ms) return bucket;
    }
    unreachable; // The last bucket's bound is maxInt(u32), checked at comptime.
}

/// The latency below which `quantile` of the samples fall, interpolated linearly inside the
/// bucket that holds it. The unbounded last bucket has no width to interpolate over, so it
/// answers with its lower bound. 0 when there are no samples.
pub fn latencyPercentileMs(histogram: *const [latency_bucket_count]u64, quantile: f64) f64 {
    assert(quantile > 0.0);
    assert(quantile <= 1.0);
    var samples_total: u64 = 0;
    for (histogram) |samples_bucket| samples_total += samples_bucket;
    if (samples_total == 0) return 0;

    const rank = quantile * @as(f64, @floatFromInt(samples_total));
    var samples_below: u64 = 0;
    for (histogram, 0..) |samples_bucket, bucket| {
        const samples_through = samples_below + samples_bucket;
        if (@as(f64, @floatFromInt(samples_through)) >= rank) {
            // rank > samples_below, so this bucket is not empty.
            assert(samples_bucket > 0);
            const lower_ms: f64 = if (bucket == 0) 0 else @floatFromInt(latency_bucket_upper_ms[bucket - 1]);
            if (bucket == latency_bucket_count - 1) return lower_ms;
            const upper_ms: f64 = @floatFromInt(latency_bucket_upper_ms[bucket]);
            const fraction = (rank - @as(f64, @floatFromInt(samples_below))) /
                @as(f64, @floatFromInt(samples_bucket));
            return lower_ms + (upper_ms - lower_ms) * fraction;
        }
        samples_below = samples_through;
    }
    unreachable; // quantile <= 1, so the last bucket reaches the rank.
}

const testing = std.testing;

test "stats: average, EWMA, tokens and cost" {
    var board = Board.init(.{});
    board.recordSuccess(.openai, 0, .{ .latency_ms = 100, .tokens_input = 10, .tokens_output = 20, .cost_usd = 0.5 });
    board.recordSuccess(.openai, 0, .{ .latency_ms = 200, .tokens_input = 1, .tokens_output = 2, .cost_usd = 0.25 });
    board.recordSuccess(.openai, 0, .{ .latency_ms = 300 });
    failTransient(&board, .openai, 0); // Failures do not count towards latency.
    const snapshot = board.snapshot(.openai, 0);
    try testing.expectEqual(@as(u64, 4), snapshot.calls_total);
    try testing.expectApproxEqAbs(@as(f64, 200), snapshot.latency_ms_average, 1e-9);
    // 100, then 0.2 * 200 + 0.8 * 100 = 120, then 0.2 * 300 + 0.8 * 120 = 156.
    try testing.expectApproxEqAbs(@as(f64, 156), snapshot.latency_ms_ewma, 1e-9);
    try testing.expectEqual(@as(u64, 11), snapshot.tokens_input);
    try testing.expectEqual(@as(u64, 22), snapshot.tokens_output);
    try testing.expectApproxEqAbs(@as(f64, 0.75), snapshot.cost_usd, 1e-12);
    try testing.expectEqual(@as(?f64, 156), board.latencyMsEwma(.openai));
    try testing.expectEqual(@as(?f64, null), board.latencyMsEwma(.groq));
    try testing.expectEqual(@as(f64, 0), board.snapshot(.groq, 0).latency_ms_average);
}

test "stats: token sums saturate" {
    var board = Board.init(.{});
    board.recordSuccess(.openai, 0, .{ .latency_ms = 1, .tokens_input = std.math.maxInt(u64) });
    board.recordSuccess(.openai, 0, .{ .latency_ms = 1, .tokens_input = 5 });
    try testing.expectEqual(@as(u64, std.math.maxInt(u64)), board.snapshot(.openai, 0).tokens_input);
}

test "stats: percentiles interpolate inside a bucket" {
    var board = Board.init(.{});
    try testing.expectEqual(@as(f64, 0), board.snapshot(.openai, 0).latency_ms_p50);
    // 100 samples in (5, 10]: the p-th percentile is 5 + 5 * p.
    for (0..100) |_| board.recordSuccess(.openai, 0, .{ .latency_ms = 7 });
    var snapshot = board.snapshot(.openai, 0);
    try testing.expectApproxEqAbs(@as(f64, 7.5), snapshot.latency_ms_p50, 1e-9);
    try testing.expectApproxEqAbs(@as(f64, 9.75), snapshot.latency_ms_p95, 1e-9);
    try testing.expectApproxEqAbs(@as(f64, 9.95), snapshot.latency_ms_p99, 1e-9);

    // 50 samples in [0, 5] and 50 in (100, 250]: p50 is the top of the first bucket, p95 is
    // 90 % of the way through the second one.
    board.reset(.openai);
    for (0..50) |_| board.recordSuccess(.openai, 0, .{ .latency_ms = 0 });
    for (0..50) |_| board.recordSuccess(.openai, 0, .{ .latency_ms = 200 });
    snapshot = board.snapshot(.openai, 0);
    try testing.expectApproxEqAbs(@as(f64, 5), snapshot.latency_ms_p50, 1e-9);
    try testing.expectApproxEqAbs(@as(f64, 235), snapshot.latency_ms_p95, 1e-9);
    try testing.expectApproxEqAbs(@as(f64, 247), snapshot.latency_ms_p99, 1e-9);

    // The unbounded bucket answers with its lower bound.
    board.reset(.openai);
    board.recordSuccess(.openai, 0, .{ .latency_ms = 90_000 });
    try testing.expectEqual(@as(f64, 60_000), board.snapshot(.openai, 0).latency_ms_p99);
}

test "stats: success rate leaves client errors out" {
    var board = Board.init(.{});
    try testing.expectEqual(@as(f64, 1.0), board.snapshot(.groq, 0).success_rate);
    board.recordFailure(.groq, 0, .{ .kind = .client });
    try testing.expectEqual(@as(f64, 1.0), board.snapshot(.groq, 0).success_rate);
    board.recordSuccess(.groq, 0, .{ .latency_ms = 1 });
    board.recordSuccess(.groq, 0, .{ .latency_ms = 1 });
    board.recordSuccess(.groq, 0, .{ .latency_ms = 1 });
    failTransient(&board, .groq, 0);
    const snapshot = board.snapshot(.groq, 0);
    try testing.expectEqual(@as(f64, 0.75), snapshot.success_rate);
    try testing.expectEqual(@as(u64, 5), snapshot.calls_total);
    try testing.expectEqual(@as(u64, 2), snapshot.calls_failed);
    try testing.expectEqual(FailureKind.transient, snapshot.last_failure_kind.?);
}
