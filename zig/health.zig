//! Per-provider circuit breaker and call statistics: a pure state machine. The caller passes time
//! in as monotonic milliseconds (`now_ms`), so every transition is deterministic and testable.
//! Not thread-safe: the node holds a lock around every call. `tests/breaker_model.py` is a Python
//! reference model of this file with `health_breaker.zig` (the circuit) and `health_stats.zig`
//! (the latency histogram); they must agree exactly, so change them together.
//!
//! Stored per provider: the circuit (closed or open), `open_until_ms`, `failures_consecutive`, a
//! probe flag with `probe_started_ms`, and the counters. "Half-open" is never stored:
//!
//! - state(now): closed -> closed; open and now < open_until_ms -> open; open and
//!   now >= open_until_ms -> half_open. Reading never changes anything.
//! - A probe is live when one is in flight and now < probe_started_ms + probe_lease_ms. The lease
//!   exists because a probe whose outcome is never reported must not block the provider forever.
//! - isEligible(now): closed -> true; open -> false; half_open -> no live probe.
//! - admit(now): closed -> allowed; open -> denied_open; half_open with a live probe ->
//!   denied_probe_in_flight; otherwise the probe is taken (started now) -> allowed_probe.
//! - recordSuccess: counters, latency (sum, EWMA, histogram), tokens and cost; then
//!   failures_consecutive = 0 and the circuit closes, whatever its state. A late success from a
//!   request admitted before the circuit opened is still evidence that the provider works.
//! - recordFailure: calls_total and calls_failed +1, last_failure_kind = kind; latency is not
//!   recorded for failures. Every failure clears the probe (the probe got its answer). By kind:
//!   - client: calls_client_error +1; the breaker is untouched, the request was at fault.
//!   - transient: failures_consecutive +1; opens for cooldown_ms if the state was half_open (a
//!     failed probe) or failures_consecutive >= failure_threshold.
//!   - rate_limited: failures_consecutive +1; hold = max(retry_after_ms, cooldown_ms if the state
//!     was half_open or failures_consecutive >= failure_threshold, else 0); opens for hold if > 0.
//!   - credential: failures_consecutive +1; opens for max(credential_cooldown_ms, retry_after_ms).
//!   - quota_exhausted: as credential, with quota_cooldown_ms.
//!   Opening for `hold` sets open_until_ms = now + hold (saturating), but while the circuit is
//!   already open open_until_ms never moves earlier: it becomes the larger of the two.
//! - Counters that could conceivably overflow (tokens, latency sum, failures_consecutive)
//!   saturate instead.
const std = @import("std");
const assert = std.debug.assert;

const catalogue = @import("catalogue.zig");
const ProviderId = catalogue.ProviderId;
const health_breaker = @import("health_breaker.zig");
const health_stats = @import("health_stats.zig");

const Circuit = health_breaker.Circuit;
const stateOf = health_breaker.stateOf;
const closeCircuit = health_breaker.closeCircuit;
const open = health_breaker.open;
const bucketIndex = health_stats.bucketIndex;
const latencyPercentileMs = health_stats.latencyPercentileMs;

pub const latency_bucket_upper_ms = health_stats.latency_bucket_upper_ms;
pub const latency_bucket_count = health_stats.latency_bucket_count;

/// Why a call failed. Part of the C ABI: append only, never reorder.
pub const FailureKind = enum(u8) { transient, rate_limited, credential, client, quota_exhausted };

pub const CircuitState = enum(u8) { closed, open, half_open };

pub const ConfigError = error{
    FailureThresholdZero,
    CooldownZero,
    ProbeLeaseZero,
    EwmaAlphaOutOfRange,
};

pub const Config = struct {
    failure_threshold: u32 = 3,
    cooldown_ms: u64 = 60_000,
    credential_cooldown_ms: u64 = 900_000,
    quota_cooldown_ms: u64 = 3_600_000,
    probe_lease_ms: u64 = 120_000,
    ewma_alpha: f64 = 0.2,

    pub fn validate(config: Config) ConfigError!void {
        if (config.failure_threshold == 0) return error.FailureThresholdZero;
        // A zero cooldown would open a circuit that is half-open at the same instant.
        if (config.cooldown_ms == 0) return error.CooldownZero;
        if (config.credential_cooldown_ms == 0) return error.CooldownZero;
        if (config.quota_cooldown_ms == 0) return error.CooldownZero;
        if (config.probe_lease_ms == 0) return error.ProbeLeaseZero;
        // Written so that NaN fails too.
        if (!(config.ewma_alpha > 0.0 and config.ewma_alpha <= 1.0)) return error.EwmaAlphaOutOfRange;
    }
};

pub const Admission = enum(u8) { allowed, allowed_probe, denied_open, denied_probe_in_flight };

pub const Success = struct {
    latency_ms: u32,
    tokens_input: u64 = 0,
    tokens_output: u64 = 0,
    cost_usd: f64 = 0,
};

pub const Failure = struct {
    kind: FailureKind,
    latency_ms: u32 = 0,
    retry_after_ms: u64 = 0,
};

pub const Snapshot = struct {
    state: CircuitState,
    calls_total: u64,
    calls_successful: u64,
    calls_failed: u64,
    calls_client_error: u64,
    failures_consecutive: u32,
    latency_ms_average: f64,
    latency_ms_ewma: f64,
    latency_ms_p50: f64,
    latency_ms_p95: f64,
    latency_ms_p99: f64,
    tokens_input: u64,
    tokens_output: u64,
    cost_usd: f64,
    open_until_ms: u64,
    healthy: bool,
    success_rate: f64,
    last_failure_kind: ?FailureKind,
};

/// One provider's record on the board: its breaker (`health_breaker.zig`) and its counters.
pub const Entry = struct {
    circuit: Circuit = .closed,
    open_until_ms: u64 = 0,
    failures_consecutive: u32 = 0,
    probe_in_flight: bool = false,
    probe_started_ms: u64 = 0,
    calls_total: u64 = 0,
    calls_successful: u64 = 0,
    calls_failed: u64 = 0,
    calls_client_error: u64 = 0,
    latency_ms_sum: u64 = 0,
    latency_ms_ewma: f64 = 0,
    latency_histogram: [latency_bucket_count]u64 = @splat(0),
    tokens_input: u64 = 0,
    tokens_output: u64 = 0,
    cost_usd: f64 = 0,
    last_failure_kind: ?FailureKind = null,
};

pub const Board = struct {
    config: Config,
    entries: [ProviderId.count]Entry,

    /// The config must be valid: callers check `Config.validate` first.
    pub fn init(config: Config) Board {
        config.validate() catch unreachable;
        return .{ .config = config, .entries = @splat(.{}) };
    }

    pub fn state(board: *const Board, id: ProviderId, now_ms: u64) CircuitState {
        return stateOf(&board.entries[id.index()], now_ms);
    }

    /// Whether the selector may put the provider in a chain: closed, or half-open and nobody
    /// holds the probe.
    pub fn isEligible(board: *const Board, id: ProviderId, now_ms: u64) bool {
        const entry = &board.entries[id.index()];
        return switch (stateOf(entry, now_ms)) {
            .closed => true,
            .open => false,
            .half_open => !board.probeLive(entry, now_ms),
        };
    }

    /// Asks to send one request now. In half-open, the first caller takes the probe and
    /// everybody else is denied until its outcome is recorded or its lease expires.
    pub fn admit(board: *Board, id: ProviderId, now_ms: u64) Admission {
        const entry = &board.entries[id.index()];
        switch (stateOf(entry, now_ms)) {
            .closed => return .allowed,
            .open => return .denied_open,
            .half_open => {
                if (board.probeLive(entry, now_ms)) return .denied_probe_in_flight;
                entry.probe_in_flight = true;
                entry.probe_started_ms = now_ms;
                assert(entry.circuit == .open);
                return .allowed_probe;
            },
        }
    }

    pub fn recordSuccess(board: *Board, id: ProviderId, now_ms: u64, success: Success) void {
        assert(std.math.isFinite(success.cost_usd));
        assert(success.cost_usd >= 0);
        // A success closes the circuit at any time, so the time is not needed; it stays in the
        // signature so that every record call has the same shape.
        _ = now_ms;
        const entry = &board.entries[id.index()];

        entry.calls_total += 1;
        entry.calls_successful += 1;
        entry.latency_ms_sum +|= success.latency_ms;
        const latency_ms: f64 = @floatFromInt(success.latency_ms);
        if (entry.calls_successful == 1) {
            entry.latency_ms_ewma = latency_ms;
        } else {
            const alpha = board.config.ewma_alpha;
            entry.latency_ms_ewma = alpha * latency_ms + (1.0 - alpha) * entry.latency_ms_ewma;
        }
        entry.latency_histogram[bucketIndex(success.latency_ms)] += 1;
        entry.tokens_input +|= success.tokens_input;
        entry.tokens_output +|= success.tokens_output;
        entry.cost_usd += success.cost_usd;

        closeCircuit(entry);
        assertInvariants(entry);
    }

    pub fn recordFailure(board: *Board, id: ProviderId, now_ms: u64, failure: Failure) void {
        const config = board.config;
        const entry = &board.entries[id.index()];
        // Taken before anything changes: a failure while half-open is a failed probe.
        const half_open = stateOf(entry, now_ms) == .half_open;

        entry.calls_total += 1;
        entry.calls_failed += 1;
        entry.last_failure_kind = failure.kind;
        entry.probe_in_flight = false;
        entry.probe_started_ms = 0;

        switch (failure.kind) {
            .client => entry.calls_client_error += 1,
            .transient => {
                entry.failures_consecutive +|= 1;
                if (half_open or entry.failures_consecutive >= config.failure_threshold) {
                    open(entry, now_ms +| config.cooldown_ms);
                }
            },
            .rate_limited => {
                entry.failures_consecutive +|= 1;
                const breaker_hold_ms: u64 =
                    if (half_open or entry.failures_consecutive >= config.failure_threshold)
                        config.cooldown_ms
                    else
                        0;
                // The provider told us when to come back; a longer Retry-After wins.
                const hold_ms = @max(failure.retry_after_ms, breaker_hold_ms);
                if (hold_ms > 0) open(entry, now_ms +| hold_ms);
            },
            .credential => {
                entry.failures_consecutive +|= 1;
                const hold_ms = @max(config.credential_cooldown_ms, failure.retry_after_ms);
                open(entry, now_ms +| hold_ms);
            },
            .quota_exhausted => {
                entry.failures_consecutive +|= 1;
                const hold_ms = @max(config.quota_cooldown_ms, failure.retry_after_ms);
                open(entry, now_ms +| hold_ms);
            },
        }
        assertInvariants(entry);
    }

    pub fn snapshot(board: *const Board, id: ProviderId, now_ms: u64) Snapshot {
        const entry = &board.entries[id.index()];
        const circuit_state = stateOf(entry, now_ms);
        const latency_ms_average: f64 = if (entry.calls_successful == 0)
            0
        else
            @as(f64, @floatFromInt(entry.latency_ms_sum)) /
                @as(f64, @floatFromInt(entry.calls_successful));
        return .{
            .state = circuit_state,
            .calls_total = entry.calls_total,
            .calls_successful = entry.calls_successful,
            .calls_failed = entry.calls_failed,
            .calls_client_error = entry.calls_client_error,
            .failures_consecutive = entry.failures_consecutive,
            .latency_ms_average = latency_ms_average,
            .latency_ms_ewma = entry.latency_ms_ewma,
            .latency_ms_p50 = latencyPercentileMs(&entry.latency_histogram, 0.50),
            .latency_ms_p95 = latencyPercentileMs(&entry.latency_histogram, 0.95),
            .latency_ms_p99 = latencyPercentileMs(&entry.latency_histogram, 0.99),
            .tokens_input = entry.tokens_input,
            .tokens_output = entry.tokens_output,
            .cost_usd = entry.cost_usd,
            .open_until_ms = entry.open_until_ms,
            .healthy = circuit_state == .closed,
            .success_rate = board.successRate(id),
            .last_failure_kind = entry.last_failure_kind,
        };
    }

    /// Successes over the calls the provider is answerable for (client errors excluded);
    /// 1.0 before any such call, so that an untried provider is not ranked below a failing one.
    pub fn successRate(board: *const Board, id: ProviderId) f64 {
        const entry = &board.entries[id.index()];
        assert(entry.calls_client_error <= entry.calls_failed);
        const calls_answerable = entry.calls_successful + (entry.calls_failed - entry.calls_client_error);
        if (calls_answerable == 0) return 1.0;
        return @as(f64, @floatFromInt(entry.calls_successful)) /
            @as(f64, @floatFromInt(calls_answerable));
    }

    /// The latency EWMA, or null before the first success (then there is nothing to average).
    pub fn latencyMsEwma(board: *const Board, id: ProviderId) ?f64 {
        const entry = &board.entries[id.index()];
        if (entry.calls_successful == 0) return null;
        return entry.latency_ms_ewma;
    }

    /// Forgets everything about one provider: closed, no probe, all counters zero.
    pub fn reset(board: *Board, id: ProviderId) void {
        board.entries[id.index()] = .{};
        assertInvariants(&board.entries[id.index()]);
    }

    /// Another replica opened this provider's circuit until `until_ms` (already converted to this
    /// process's clock). Opens it here too, or keeps a later deadline already set; counters and
    /// the probe are untouched, since no call of ours failed.
    pub fn openUntil(board: *Board, id: ProviderId, until_ms: u64) void {
        assert(until_ms > 0);
        const entry = &board.entries[id.index()];
        open(entry, until_ms);
        assert(entry.circuit == .open);
        assert(entry.open_until_ms >= until_ms);
        assertInvariants(entry);
    }

    /// Another replica's probe succeeded: the circuit closes as after a success of ours, but no
    /// call is counted here.
    pub fn close(board: *Board, id: ProviderId) void {
        const entry = &board.entries[id.index()];
        closeCircuit(entry);
        assertInvariants(entry);
    }

    /// Gives back a probe admitted here that will not be sent (another replica holds the shared
    /// probe, or the call was cancelled before it said anything about the provider).
    pub fn releaseProbe(board: *Board, id: ProviderId) void {
        const entry = &board.entries[id.index()];
        entry.probe_in_flight = false;
        entry.probe_started_ms = 0;
        assertInvariants(entry);
    }

    fn probeLive(board: *const Board, entry: *const Entry, now_ms: u64) bool {
        if (!entry.probe_in_flight) return false;
        assert(entry.circuit == .open);
        return now_ms < entry.probe_started_ms +| board.config.probe_lease_ms;
    }
};

fn assertInvariants(entry: *const Entry) void {
    assert(entry.calls_total == entry.calls_successful + entry.calls_failed);
    assert(entry.calls_client_error <= entry.calls_failed);
    // Only failures the provider is answerable for count, and a success resets the run.
    assert(entry.failures_consecutive <= entry.calls_failed - entry.calls_client_error);
    var samples_total: u64 = 0;
    for (entry.latency_histogram) |samples_bucket| samples_total += samples_bucket;
    assert(samples_total == entry.calls_successful);
    if (entry.calls_successful == 0) assert(entry.latency_ms_sum == 0);
    assert(entry.cost_usd >= 0);
    switch (entry.circuit) {
        .closed => {
            assert(entry.open_until_ms == 0);
            assert(!entry.probe_in_flight);
        },
        .open => assert(entry.open_until_ms > 0),
    }
    if (!entry.probe_in_flight) assert(entry.probe_started_ms == 0);
}

const testing = std.testing;
const failTransient = health_breaker.failTransient;
const boardGroqOpenedAtZero = health_breaker.boardGroqOpenedAtZero;

test "config: defaults are valid, bad values are named" {
    try (Config{}).validate();
    try testing.expectError(error.FailureThresholdZero, (Config{ .failure_threshold = 0 }).validate());
    try testing.expectError(error.CooldownZero, (Config{ .cooldown_ms = 0 }).validate());
    try testing.expectError(error.CooldownZero, (Config{ .credential_cooldown_ms = 0 }).validate());
    try testing.expectError(error.CooldownZero, (Config{ .quota_cooldown_ms = 0 }).validate());
    try testing.expectError(error.ProbeLeaseZero, (Config{ .probe_lease_ms = 0 }).validate());
    try testing.expectError(error.EwmaAlphaOutOfRange, (Config{ .ewma_alpha = 0 }).validate());
    try testing.expectError(error.EwmaAlphaOutOfRange, (Config{ .ewma_alpha = 1.5 }).validate());
    try testing.expectError(error.EwmaAlphaOutOfRange, (Config{ .ewma_alpha = std.math.nan(f64) }).validate());
    try (Config{ .ewma_alpha = 1.0, .failure_threshold = 1 }).validate();
}

test "reset forgets one provider" {
    var board = boardGroqOpenedAtZero();
    failTransient(&board, .openai, 0);
    board.reset(.groq);
    const snapshot = board.snapshot(.groq, 0);
    try testing.expectEqual(CircuitState.closed, snapshot.state);
    try testing.expectEqual(@as(u64, 0), snapshot.calls_total);
    try testing.expectEqual(@as(?FailureKind, null), snapshot.last_failure_kind);
    try testing.expectEqual(@as(u64, 1), board.snapshot(.openai, 0).calls_failed);
}

test "randomized: invariants hold under any sequence of events" {
    var prng = std.Random.DefaultPrng.init(0x7121_17e5);
    const random = prng.random();
    var board = Board.init(.{ .failure_threshold = 2, .cooldown_ms = 1_000, .credential_cooldown_ms = 5_000, .quota_cooldown_ms = 9_000, .probe_lease_ms = 2_000 });
    var now_ms: u64 = 0;
    const ids = [_]ProviderId{ .groq, .openai, .local };
    const iterations_max = 20_000;
    for (0..iterations_max) |_| {
        now_ms += random.uintLessThan(u64, 700);
        const id = ids[random.uintLessThan(usize, ids.len)];
        const state_before = board.state(id, now_ms);
        switch (random.uintLessThan(u8, 4)) {
            0 => {
                const admission = board.admit(id, now_ms);
                switch (state_before) {
                    .closed => try testing.expectEqual(Admission.allowed, admission),
                    .open => try testing.expectEqual(Admission.denied_open, admission),
                    .half_open => try testing.expect(admission == .allowed_probe or admission == .denied_probe_in_flight),
                }
                if (admission == .allowed_probe) try testing.expect(!board.isEligible(id, now_ms));
            },
            1 => {
                board.recordSuccess(id, now_ms, .{ .latency_ms = random.uintLessThan(u32, 70_000), .tokens_input = random.int(u16), .cost_usd = 0.001 });
                try testing.expectEqual(CircuitState.closed, board.state(id, now_ms));
            },
            2, 3 => {
                const open_until_before_ms = board.snapshot(id, now_ms).open_until_ms;
                const kind = random.enumValue(FailureKind);
                const retry_after_ms = if (random.boolean()) random.uintLessThan(u64, 10_000) else 0;
                board.recordFailure(id, now_ms, .{ .kind = kind, .retry_after_ms = retry_after_ms });
                const snapshot = board.snapshot(id, now_ms);
                if (state_before == .open) try testing.expect(snapshot.open_until_ms >= open_until_before_ms);
                if (kind == .client) try testing.expectEqual(open_until_before_ms, snapshot.open_until_ms);
                if (kind == .credential or kind == .quota_exhausted) try testing.expectEqual(CircuitState.open, snapshot.state);
            },
            else => unreachable,
        }
        const snapshot = board.snapshot(id, now_ms);
        try testing.expectEqual(snapshot.calls_total, snapshot.calls_successful + snapshot.calls_failed);
        try testing.expect(snapshot.success_rate >= 0.0);
        try testing.expect(snapshot.success_rate <= 1.0);
        try testing.expect(snapshot.latency_ms_p50 <= snapshot.latency_ms_p95);
        try testing.expect(snapshot.latency_ms_p95 <= snapshot.latency_ms_p99);
        try testing.expectEqual(snapshot.healthy, snapshot.state == .closed);
        if (snapshot.state == .open) try testing.expect(!board.isEligible(id, now_ms));
    }
}

test "remote events: open until a deadline, close, release a probe" {
    var board = Board.init(.{ .cooldown_ms = 1_000, .probe_lease_ms = 500 });
    const id = ProviderId.groq;
    board.openUntil(id, 5_000);
    try testing.expectEqual(CircuitState.open, board.state(id, 4_999));
    try testing.expectEqual(CircuitState.half_open, board.state(id, 5_000));
    // An earlier deadline never shortens the hold.
    board.openUntil(id, 3_000);
    try testing.expectEqual(@as(u64, 5_000), board.snapshot(id, 0).open_until_ms);
    try testing.expectEqual(@as(u64, 0), board.snapshot(id, 0).calls_total);
    try testing.expectEqual(Admission.allowed_probe, board.admit(id, 5_000));
    try testing.expectEqual(Admission.denied_probe_in_flight, board.admit(id, 5_001));
    board.releaseProbe(id);
    try testing.expectEqual(Admission.allowed_probe, board.admit(id, 5_002));
    board.close(id);
    try testing.expectEqual(CircuitState.closed, board.state(id, 5_002));
    try testing.expectEqual(Admission.allowed, board.admit(id, 5_002));
    try testing.expectEqual(@as(u64, 0), board.snapshot(id, 0).calls_total);
}
