//! The C ABI's node: create and destroy a `th_node`, configure it (availability, preferred
//! provider, strategy, thresholds, breaker, provider entries), record outcomes, read its stats
//! and status, and apply other replicas' breaker events. Part of the library's C ABI, which
//! `c_api.zig` roots; routing through a node is `c_api_route.zig`'s.
const std = @import("std");
const core = @import("trinity_hybrid");
const c_api = @import("c_api.zig");
const c_api_route = @import("c_api_route.zig");
const c_api_text = @import("c_api_text.zig");

const catalogue = core.catalogue;
const health = core.health;
const ProviderId = core.ProviderId;
const TrinityHybridNode = core.TrinityHybridNode;
const BreakerConfig = c_api.BreakerConfig;
const Detection = c_api.Detection;
const ProviderInfo = c_api.ProviderInfo;
const ProviderStats = c_api.ProviderStats;
const Route = c_api.Route;
const Status = c_api.Status;
const allocator = c_api.allocator;
const io = c_api.io;
const provider_none = c_api.provider_none;
const strategy_node_default = c_api.strategy_node_default;
const providerFromIndex = c_api.providerFromIndex;
const strategyFromIndex = c_api.strategyFromIndex;
const textSlice = c_api.textSlice;

pub export fn th_node_create(out: ?*?*TrinityHybridNode) Status {
    const target = out orelse return .invalid_argument;
    target.* = TrinityHybridNode.create(allocator, io(), .{}) catch |err| return switch (err) {
        error.OutOfMemory => .out_of_memory,
        error.InvalidConfig => .invalid_config,
    };
    return .ok;
}

pub export fn th_node_destroy(node: ?*TrinityHybridNode) void {
    const target = node orelse return;
    target.destroy();
}

pub export fn th_node_set_available(node: ?*TrinityHybridNode, provider: u32, available: u8, key: ?[*]const u8, key_len: usize) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    const key_bytes = textSlice(key, key_len) orelse return .invalid_argument;
    if (available != 0) target.setAvailable(id, key_bytes) else target.setUnavailable(id);
    return .ok;
}

export fn th_node_set_preferred_provider(node: ?*TrinityHybridNode, provider: i32) Status {
    const target = node orelse return .invalid_argument;
    if (provider == provider_none) {
        target.setPreferredProvider(null);
        return .ok;
    }
    if (provider < 0) return .unknown_provider;
    const id = providerFromIndex(@intCast(provider)) orelse return .unknown_provider;
    target.setPreferredProvider(id);
    return .ok;
}

export fn th_node_set_strategy_default(node: ?*TrinityHybridNode, strategy: u32) Status {
    const target = node orelse return .invalid_argument;
    const value = strategyFromIndex(strategy) orelse return .invalid_argument;
    target.setStrategyDefault(value);
    return .ok;
}

export fn th_node_set_long_context_threshold(node: ?*TrinityHybridNode, threshold_tokens: u64) Status {
    const target = node orelse return .invalid_argument;
    if (threshold_tokens == 0) return .invalid_argument;
    target.setLongContextThreshold(threshold_tokens);
    return .ok;
}

export fn th_node_set_seed(node: ?*TrinityHybridNode, seed: u64) Status {
    const target = node orelse return .invalid_argument;
    target.reseed(seed);
    return .ok;
}

export fn th_node_configure_breaker(node: ?*TrinityHybridNode, config: ?*const BreakerConfig) Status {
    const target = node orelse return .invalid_argument;
    const source = config orelse return .invalid_argument;
    target.configureBreaker(.{
        .failure_threshold = source.failure_threshold,
        .cooldown_ms = source.cooldown_ms,
        .credential_cooldown_ms = source.credential_cooldown_ms,
        .quota_cooldown_ms = source.quota_cooldown_ms,
        .probe_lease_ms = source.probe_lease_ms,
        .ewma_alpha = source.ewma_alpha,
    }) catch return .invalid_config;
    return .ok;
}

export fn th_node_get_breaker_config(node: ?*TrinityHybridNode, out: ?*BreakerConfig) Status {
    const target = node orelse return .invalid_argument;
    const destination = out orelse return .invalid_argument;
    const config = target.breakerConfig();
    destination.* = .{
        .failure_threshold = config.failure_threshold,
        .reserved = 0,
        .cooldown_ms = config.cooldown_ms,
        .credential_cooldown_ms = config.credential_cooldown_ms,
        .quota_cooldown_ms = config.quota_cooldown_ms,
        .probe_lease_ms = config.probe_lease_ms,
        .ewma_alpha = config.ewma_alpha,
    };
    return .ok;
}

export fn th_node_get_provider(node: ?*TrinityHybridNode, provider: u32, out: ?*ProviderInfo) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    const destination = out orelse return .invalid_argument;
    const entry = target.provider(id);
    destination.* = .{
        .model = @splat(0),
        .context_window_tokens = entry.context_window_tokens,
        .quality_tier = entry.quality_tier,
        .speed_tokens_per_s = entry.speed_tokens_per_s,
        .price_input_usd_per_mtok = entry.price_input_usd_per_mtok,
        .price_output_usd_per_mtok = entry.price_output_usd_per_mtok,
        .strengths = @bitCast(entry.strengths),
        .local = @intFromBool(entry.local),
        .priority = entry.priority,
        .reserved = 0,
    };
    @memcpy(destination.model[0..entry.model_len], entry.model());
    return .ok;
}

export fn th_node_set_provider(node: ?*TrinityHybridNode, provider: u32, info: ?*const ProviderInfo) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    const source = info orelse return .invalid_argument;
    const model_len = std.mem.indexOfScalar(u8, &source.model, 0) orelse return .invalid_config;
    if (source.quality_tier > std.math.maxInt(u8)) return .invalid_config;
    var entry: catalogue.Provider = .{
        .id = id,
        .context_window_tokens = source.context_window_tokens,
        .quality_tier = @intCast(source.quality_tier),
        .speed_tokens_per_s = source.speed_tokens_per_s,
        .price_input_usd_per_mtok = source.price_input_usd_per_mtok,
        .price_output_usd_per_mtok = source.price_output_usd_per_mtok,
        .strengths = @bitCast(source.strengths),
        .local = source.local != 0,
        .priority = source.priority,
    };
    entry.setModel(source.model[0..model_len]) catch return .invalid_config;
    target.setProvider(entry) catch return .invalid_config;
    return .ok;
}

export fn th_node_admit(node: ?*TrinityHybridNode, provider: u32, now_ms: u64, admission_out: ?*u32) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    const destination = admission_out orelse return .invalid_argument;
    destination.* = @backingInt(target.admit(id, now_ms));
    return .ok;
}

export fn th_node_record_success(
    node: ?*TrinityHybridNode,
    provider: u32,
    now_ms: u64,
    latency_ms: u32,
    tokens_input: u64,
    tokens_output: u64,
    cost_usd_out: ?*f64,
) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    const cost_usd = target.recordSuccess(id, now_ms, latency_ms, tokens_input, tokens_output);
    if (cost_usd_out) |destination| destination.* = cost_usd;
    return .ok;
}

/// th_node_record_success with the cost priced by the caller (cached tokens have their own price).
export fn th_node_record_success_priced(
    node: ?*TrinityHybridNode,
    provider: u32,
    now_ms: u64,
    latency_ms: u32,
    tokens_input: u64,
    tokens_output: u64,
    cost_usd: f64,
) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    if (!std.math.isFinite(cost_usd) or cost_usd < 0) return .invalid_argument;
    target.recordSuccessPriced(id, now_ms, latency_ms, tokens_input, tokens_output, cost_usd);
    return .ok;
}

export fn th_node_record_failure(node: ?*TrinityHybridNode, provider: u32, now_ms: u64, kind: u32, latency_ms: u32, retry_after_ms: u64) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    if (kind >= std.meta.fieldNames(health.FailureKind).len) return .invalid_argument;
    target.recordFailure(id, now_ms, .{
        .kind = @fromBackingInt(@intCast(kind)),
        .latency_ms = latency_ms,
        .retry_after_ms = retry_after_ms,
    });
    return .ok;
}

export fn th_node_stats(node: ?*TrinityHybridNode, provider: u32, now_ms: u64, out: ?*ProviderStats) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    const destination = out orelse return .invalid_argument;
    const entry = target.snapshot(id, now_ms);
    destination.* = .{
        .calls_total = entry.calls_total,
        .calls_successful = entry.calls_successful,
        .calls_failed = entry.calls_failed,
        .calls_client_error = entry.calls_client_error,
        .tokens_input = entry.tokens_input,
        .tokens_output = entry.tokens_output,
        .open_until_ms = entry.open_until_ms,
        .cost_usd = entry.cost_usd,
        .success_rate = entry.success_rate,
        .latency_ms_average = entry.latency_ms_average,
        .latency_ms_ewma = entry.latency_ms_ewma,
        .latency_ms_p50 = entry.latency_ms_p50,
        .latency_ms_p95 = entry.latency_ms_p95,
        .latency_ms_p99 = entry.latency_ms_p99,
        .failures_consecutive = entry.failures_consecutive,
        .state = @backingInt(entry.state),
        .last_failure_kind = if (entry.last_failure_kind) |kind| @backingInt(kind) else -1,
        .healthy = @intFromBool(entry.healthy),
        .available = @intFromBool(target.isAvailable(id)),
        .reserved = @splat(0),
    };
    return .ok;
}

export fn th_node_reset(node: ?*TrinityHybridNode, provider: u32) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    target.reset(id);
    return .ok;
}

export fn th_node_status_json(node: ?*TrinityHybridNode, now_ms: u64, out: ?[*]u8, out_capacity: usize, out_len: ?*usize) Status {
    const target = node orelse return .invalid_argument;
    const length_target = out_len orelse return .invalid_argument;
    var document: std.Io.Writer.Allocating = .init(allocator);
    defer document.deinit();
    target.writeStatus(&document.writer, now_ms) catch return .out_of_memory;
    const written = document.written();
    length_target.* = written.len;
    if (written.len > out_capacity) return .buffer_too_small;
    const destination = out orelse return .invalid_argument;
    @memcpy(destination[0..written.len], written);
    return .ok;
}

// Shared state (ABI 3): events from other replicas, applied to this node's breaker.

export fn th_node_open_until(node: ?*TrinityHybridNode, provider: u32, until_ms: u64) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    if (until_ms == 0) return .invalid_argument;
    target.openUntil(id, until_ms);
    return .ok;
}

export fn th_node_close_breaker(node: ?*TrinityHybridNode, provider: u32) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    target.closeBreaker(id);
    return .ok;
}

export fn th_node_release_probe(node: ?*TrinityHybridNode, provider: u32) Status {
    const target = node orelse return .invalid_argument;
    const id = providerFromIndex(provider) orelse return .unknown_provider;
    target.releaseProbe(id);
    return .ok;
}

test "bad arguments get a status, not a crash" {
    var detection: Detection = undefined;
    try std.testing.expectEqual(Status.invalid_argument, c_api_text.th_detect_language(null, 3, &detection));
    try std.testing.expectEqual(Status.ok, c_api_text.th_detect_language(null, 0, &detection));
    try std.testing.expectEqual(Status.invalid_argument, c_api_route.th_node_route(null, null, 0, 0, 0, provider_none, 0, 0, null));
    var node: ?*TrinityHybridNode = null;
    try std.testing.expectEqual(Status.ok, th_node_create(&node));
    defer th_node_destroy(node);
    try std.testing.expectEqual(Status.unknown_provider, th_node_record_failure(node, 99, 0, 0, 0, 0));
    try std.testing.expectEqual(Status.invalid_argument, th_node_record_failure(node, 0, 0, 99, 0, 0));
    try std.testing.expectEqual(Status.unknown_provider, th_node_set_preferred_provider(node, -7));
    var route: Route = undefined;
    try std.testing.expectEqual(Status.unknown_provider, c_api_route.th_node_route(node, "hello", 5, 0, 0, 42, strategy_node_default, 0, &route));
    try std.testing.expectEqual(Status.invalid_argument, c_api_route.th_node_route(node, "hello", 5, 0, 0, provider_none, 77, 0, &route));
    try std.testing.expectEqual(Status.invalid_argument, c_api_route.th_node_route(node, null, 5, 0, 0, provider_none, strategy_node_default, 0, &route));
    try std.testing.expectEqual(Status.ok, c_api_route.th_node_route(node, null, 0, 0, 0, provider_none, strategy_node_default, 0, &route));
    var small: [4]u8 = undefined;
    var needed: usize = 0;
    try std.testing.expectEqual(Status.buffer_too_small, th_node_status_json(node, 0, &small, small.len, &needed));
    try std.testing.expect(needed > small.len);
}

test "remote breaker events reject bad arguments" {
    var node: ?*TrinityHybridNode = null;
    try std.testing.expectEqual(Status.ok, th_node_create(&node));
    defer th_node_destroy(node);
    try std.testing.expectEqual(Status.invalid_argument, th_node_open_until(null, 0, 10));
    try std.testing.expectEqual(Status.invalid_argument, th_node_open_until(node, 0, 0));
    try std.testing.expectEqual(Status.unknown_provider, th_node_close_breaker(node, 99));
    try std.testing.expectEqual(Status.unknown_provider, th_node_release_probe(node, 99));
    try std.testing.expectEqual(Status.ok, th_node_open_until(node, 0, 10));
    try std.testing.expectEqual(Status.ok, th_node_release_probe(node, 0));
    try std.testing.expectEqual(Status.ok, th_node_close_breaker(node, 0));
}

test "a priced success counts the caller's cost; a cost that is no price is refused" {
    var node: ?*TrinityHybridNode = null;
    try std.testing.expectEqual(Status.ok, th_node_create(&node));
    defer th_node_destroy(node);
    try std.testing.expectEqual(Status.ok, th_node_record_success_priced(node, 0, 1_000, 20, 1_000_000, 10, 0.125));
    var stats: ProviderStats = undefined;
    try std.testing.expectEqual(Status.ok, th_node_stats(node, 0, 1_000, &stats));
    try std.testing.expectEqual(@as(f64, 0.125), stats.cost_usd);
    try std.testing.expectEqual(@as(u64, 1_000_000), stats.tokens_input);
    try std.testing.expectEqual(@as(u64, 1), stats.calls_successful);
    for ([_]f64{ -0.5, std.math.nan(f64), std.math.inf(f64) }) |cost_usd| {
        try std.testing.expectEqual(Status.invalid_argument, th_node_record_success_priced(node, 0, 1_000, 20, 1, 1, cost_usd));
    }
    try std.testing.expectEqual(Status.unknown_provider, th_node_record_success_priced(node, 99, 1_000, 20, 1, 1, 0.0));
    try std.testing.expectEqual(Status.invalid_argument, th_node_record_success_priced(null, 0, 1_000, 20, 1, 1, 0.0));
    try std.testing.expectEqual(Status.ok, th_node_stats(node, 0, 1_000, &stats));
    try std.testing.expectEqual(@as(u64, 1), stats.calls_total); // the refused ones counted nothing
}
