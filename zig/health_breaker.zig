//! The circuit breaker of one provider's entry on the board: the stored circuit (closed or
//! open), its state at a given time, and how it opens and closes. `health.zig`'s module comment
//! states the rules; `Board.recordFailure` decides when to open and for how long. The tests here
//! drive the breaker through the board.
const std = @import("std");
const assert = std.debug.assert;

const catalogue = @import("catalogue.zig");
const health = @import("health.zig");

const ProviderId = catalogue.ProviderId;
const Admission = health.Admission;
const Board = health.Board;
const CircuitState = health.CircuitState;
const Entry = health.Entry;
const FailureKind = health.FailureKind;

/// What is stored; half-open is derived from time (see `health.zig`'s module comment).
pub const Circuit = enum(u8) { closed, open };

pub fn stateOf(entry: *const Entry, now_ms: u64) CircuitState {
    switch (entry.circuit) {
        .closed => return .closed,
        .open => {
            assert(entry.open_until_ms > 0);
            return if (now_ms < entry.open_until_ms) .open else .half_open;
        },
    }
}

/// Closed, no probe, the run of failures forgotten: after a success here or another replica's.
pub fn closeCircuit(entry: *Entry) void {
    entry.failures_consecutive = 0;
    entry.circuit = .closed;
    entry.open_until_ms = 0;
    entry.probe_in_flight = false;
    entry.probe_started_ms = 0;
}

/// Opens the circuit until `until_ms`, or keeps a later deadline already set.
pub fn open(entry: *Entry, until_ms: u64) void {
    assert(until_ms > 0);
    switch (entry.circuit) {
        .closed => {
            assert(entry.open_until_ms == 0);
            entry.circuit = .open;
            entry.open_until_ms = until_ms;
        },
        .open => entry.open_until_ms = @max(entry.open_until_ms, until_ms),
    }
}

const testing = std.testing;

/// A transient failure; for the tests of the health files, as is `boardGroqOpenedAtZero`.
pub fn failTransient(board: *Board, id: ProviderId, now_ms: u64) void {
    board.recordFailure(id, now_ms, .{ .kind = .transient });
}

/// Default config; groq opened at 0 by three transient failures, so half-open from 60_000.
pub fn boardGroqOpenedAtZero() Board {
    var board = Board.init(.{});
    for (0..3) |_| failTransient(&board, .groq, 0);
    assert(board.state(.groq, 59_999) == .open);
    return board;
}

test "breaker: closed to open after three transient failures" {
    var board = Board.init(.{});
    failTransient(&board, .groq, 1_000);
    failTransient(&board, .groq, 2_000);
    try testing.expectEqual(CircuitState.closed, board.state(.groq, 2_000));
    try testing.expectEqual(Admission.allowed, board.admit(.groq, 2_000));
    failTransient(&board, .groq, 3_000);
    try testing.expectEqual(CircuitState.open, board.state(.groq, 3_000));
    try testing.expectEqual(@as(u64, 63_000), board.snapshot(.groq, 3_000).open_until_ms);
    try testing.expect(!board.isEligible(.groq, 3_000));
    try testing.expectEqual(Admission.denied_open, board.admit(.groq, 62_999));
    // Other providers are untouched.
    try testing.expectEqual(CircuitState.closed, board.state(.openai, 3_000));
}

test "breaker: two failures and a success stay closed and reset the run" {
    var board = Board.init(.{});
    failTransient(&board, .groq, 1);
    failTransient(&board, .groq, 2);
    board.recordSuccess(.groq, 3, .{ .latency_ms = 100 });
    try testing.expectEqual(@as(u32, 0), board.snapshot(.groq, 3).failures_consecutive);
    failTransient(&board, .groq, 4);
    failTransient(&board, .groq, 5);
    try testing.expectEqual(CircuitState.closed, board.state(.groq, 5));
    try testing.expectEqual(@as(u32, 2), board.snapshot(.groq, 5).failures_consecutive);
}

test "breaker: half-open after the cooldown, computed lazily" {
    var board = Board.init(.{});
    for (0..3) |_| failTransient(&board, .groq, 10_000);
    try testing.expectEqual(CircuitState.open, board.state(.groq, 69_999));
    try testing.expectEqual(CircuitState.half_open, board.state(.groq, 70_000));
    try testing.expect(board.isEligible(.groq, 70_000));
    // Reading did not store anything: an earlier time still reads as open.
    try testing.expectEqual(CircuitState.open, board.state(.groq, 69_999));
    try testing.expect(!board.snapshot(.groq, 70_000).healthy);
}

test "breaker: exactly one probe is admitted while half-open" {
    var board = boardGroqOpenedAtZero();
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 60_000));
    try testing.expect(!board.isEligible(.groq, 60_000));
    try testing.expectEqual(Admission.denied_probe_in_flight, board.admit(.groq, 60_001));
    try testing.expectEqual(Admission.denied_probe_in_flight, board.admit(.groq, 179_999));
    try testing.expectEqual(CircuitState.half_open, board.state(.groq, 100_000));
}

test "breaker: an expired probe lease admits another probe" {
    var board = boardGroqOpenedAtZero();
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 60_000));
    // The lease is 120 s: at 180 s the first probe is presumed lost.
    try testing.expect(board.isEligible(.groq, 180_000));
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 180_000));
    try testing.expectEqual(Admission.denied_probe_in_flight, board.admit(.groq, 180_001));
}

test "breaker: a successful probe closes" {
    var board = boardGroqOpenedAtZero();
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 60_000));
    board.recordSuccess(.groq, 60_500, .{ .latency_ms = 500 });
    const snapshot = board.snapshot(.groq, 60_500);
    try testing.expectEqual(CircuitState.closed, snapshot.state);
    try testing.expect(snapshot.healthy);
    try testing.expectEqual(@as(u64, 0), snapshot.open_until_ms);
    try testing.expectEqual(@as(u32, 0), snapshot.failures_consecutive);
    try testing.expectEqual(Admission.allowed, board.admit(.groq, 60_501));
}

test "breaker: a failed probe reopens for a full cooldown" {
    var board = boardGroqOpenedAtZero();
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 60_000));
    failTransient(&board, .groq, 61_000);
    try testing.expectEqual(CircuitState.open, board.state(.groq, 61_000));
    try testing.expectEqual(@as(u64, 121_000), board.snapshot(.groq, 61_000).open_until_ms);
    try testing.expectEqual(Admission.denied_open, board.admit(.groq, 120_999));
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 121_000));
}

test "breaker: a failed probe reopens even below the threshold" {
    // A credential failure opens with one failure; the probe's transient failure is the second.
    var board = Board.init(.{});
    board.recordFailure(.openai, 0, .{ .kind = .credential });
    try testing.expectEqual(Admission.allowed_probe, board.admit(.openai, 900_000));
    failTransient(&board, .openai, 900_010);
    try testing.expectEqual(@as(u32, 2), board.snapshot(.openai, 900_010).failures_consecutive);
    try testing.expectEqual(@as(u64, 960_010), board.snapshot(.openai, 900_010).open_until_ms);
}

test "breaker: 429 with Retry-After opens at once; a longer Retry-After wins" {
    var board = Board.init(.{});
    board.recordFailure(.groq, 1_000, .{ .kind = .rate_limited, .retry_after_ms = 5_000 });
    try testing.expectEqual(CircuitState.open, board.state(.groq, 1_000));
    try testing.expectEqual(@as(u64, 6_000), board.snapshot(.groq, 1_000).open_until_ms);
    try testing.expectEqual(CircuitState.half_open, board.state(.groq, 6_000));

    // At the threshold the cooldown applies, unless Retry-After is longer.
    var board_long = Board.init(.{});
    board_long.recordFailure(.groq, 0, .{ .kind = .rate_limited });
    board_long.recordFailure(.groq, 0, .{ .kind = .rate_limited });
    try testing.expectEqual(CircuitState.closed, board_long.state(.groq, 0));
    board_long.recordFailure(.groq, 0, .{ .kind = .rate_limited, .retry_after_ms = 10_000 });
    try testing.expectEqual(@as(u64, 60_000), board_long.snapshot(.groq, 0).open_until_ms);
    board_long.recordFailure(.groq, 1, .{ .kind = .rate_limited, .retry_after_ms = 300_000 });
    try testing.expectEqual(@as(u64, 300_001), board_long.snapshot(.groq, 1).open_until_ms);
    try testing.expectEqual(FailureKind.rate_limited, board_long.snapshot(.groq, 1).last_failure_kind.?);
}

test "breaker: credential and quota failures open at once for their own cooldowns" {
    var board = Board.init(.{});
    board.recordFailure(.openai, 1_000, .{ .kind = .credential });
    try testing.expectEqual(CircuitState.open, board.state(.openai, 1_000));
    try testing.expectEqual(@as(u64, 901_000), board.snapshot(.openai, 1_000).open_until_ms);
    try testing.expectEqual(CircuitState.half_open, board.state(.openai, 901_000));

    board.recordFailure(.kimi, 1_000, .{ .kind = .quota_exhausted });
    try testing.expectEqual(@as(u64, 3_601_000), board.snapshot(.kimi, 1_000).open_until_ms);
    board.recordFailure(.cohere, 0, .{ .kind = .quota_exhausted, .retry_after_ms = 7_200_000 });
    try testing.expectEqual(@as(u64, 7_200_000), board.snapshot(.cohere, 0).open_until_ms);
}

test "breaker: client errors leave the breaker alone" {
    var board = Board.init(.{});
    for (0..10) |_| board.recordFailure(.groq, 0, .{ .kind = .client });
    var snapshot = board.snapshot(.groq, 0);
    try testing.expectEqual(CircuitState.closed, snapshot.state);
    try testing.expectEqual(@as(u32, 0), snapshot.failures_consecutive);
    try testing.expectEqual(@as(u64, 10), snapshot.calls_client_error);
    try testing.expectEqual(@as(u64, 10), snapshot.calls_failed);

    // In half-open, a client error answers the probe without closing or reopening.
    for (0..3) |_| failTransient(&board, .groq, 0);
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 60_000));
    board.recordFailure(.groq, 60_001, .{ .kind = .client });
    snapshot = board.snapshot(.groq, 60_001);
    try testing.expectEqual(CircuitState.half_open, snapshot.state);
    try testing.expectEqual(@as(u64, 60_000), snapshot.open_until_ms);
    try testing.expectEqual(Admission.allowed_probe, board.admit(.groq, 60_002));
}

test "breaker: open_until_ms never moves earlier while open" {
    var board = Board.init(.{});
    board.recordFailure(.anthropic, 0, .{ .kind = .credential });
    try testing.expectEqual(@as(u64, 900_000), board.snapshot(.anthropic, 0).open_until_ms);
    board.recordFailure(.anthropic, 10, .{ .kind = .rate_limited, .retry_after_ms = 1_000 });
    failTransient(&board, .anthropic, 20);
    failTransient(&board, .anthropic, 30);
    try testing.expectEqual(@as(u64, 900_000), board.snapshot(.anthropic, 30).open_until_ms);
    // A later deadline does move it.
    board.recordFailure(.anthropic, 40, .{ .kind = .quota_exhausted });
    try testing.expectEqual(@as(u64, 3_600_040), board.snapshot(.anthropic, 40).open_until_ms);
}

test "breaker: a late success closes an open circuit" {
    var board = boardGroqOpenedAtZero();
    board.recordSuccess(.groq, 5, .{ .latency_ms = 20 });
    try testing.expectEqual(CircuitState.closed, board.state(.groq, 5));
    try testing.expectEqual(Admission.allowed, board.admit(.groq, 5));
}

test "breaker: times near the end of u64 saturate" {
    var board = Board.init(.{});
    const now_ms = std.math.maxInt(u64) - 10;
    board.recordFailure(.groq, now_ms, .{ .kind = .credential });
    try testing.expectEqual(@as(u64, std.math.maxInt(u64)), board.snapshot(.groq, now_ms).open_until_ms);
    try testing.expectEqual(CircuitState.open, board.state(.groq, now_ms));
}
