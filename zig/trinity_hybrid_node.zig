//! `TrinityHybridNode`: the router as one object. It owns the catalogue, the breaker and stats
//! board, and which providers are available; it turns a prompt into an ordered provider chain and
//! records outcomes. It is thread-safe: one mutex guards all mutable state, and every critical
//! section is a few hundred nanoseconds of arithmetic, never I/O.
//!
//! Python drives it through the C ABI (the HTTP lives in Python). A Zig program uses it directly
//! and passes its own `Transport` to `infer`.
const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;

const catalogue_module = @import("catalogue.zig");
const health = @import("health.zig");
const language = @import("language.zig");
const selector = @import("selector.zig");
const tokens = @import("tokens.zig");
const node_status = @import("node_status.zig");

const Catalogue = catalogue_module.Catalogue;
const ProviderId = catalogue_module.ProviderId;

pub const Strategy = selector.Strategy;
pub const Reason = selector.Reason;

/// Everything about a prompt that routing needs, plus the chain chosen for it.
/// The ordered providers and the size they were chosen for, without the language's name.
pub const Chain = struct {
    route: selector.Route,
    /// As in `Decision`.
    tokens_estimated: u64,
    tokens_estimate_exact: bool,
};

/// The clock the breaker runs on: monotonic, in whole milliseconds.
pub fn monotonicMs(io: std.Io) u64 {
    const nanoseconds = std.Io.Clock.awake.now(io).nanoseconds;
    // In 64 bits, which hold 584 years of uptime: `toMilliseconds` divides the 96-bit value
    // through a 128-bit division routine, a tenth of the C ABI's share of a route.
    const nanoseconds_clamped: u64 = @intCast(std.math.clamp(nanoseconds, 0, std.math.maxInt(u64)));
    return nanoseconds_clamped / std.time.ns_per_ms;
}

pub const Decision = struct {
    route: selector.Route,
    detection: language.Detection,
    /// The estimate (prompt plus reserved output), or, when `tokens_estimate_exact` is false,
    /// an upper bound on it: the prompt's byte count plus the reserved output.
    tokens_estimated: u64,
    tokens_estimate_exact: bool,
};

pub const RouteOptions = struct {
    quality: bool = false,
    force_provider: ?ProviderId = null,
    /// `null` uses the node's default strategy.
    strategy: ?Strategy = null,
    /// Tokens the answer may add (max_tokens): the window must hold prompt and answer.
    tokens_reserved_output: u64 = 0,
};

pub const Options = struct {
    breaker: health.Config = .{},
    strategy_default: Strategy = .rule,
    long_context_threshold_tokens: u64 = 128_000,
    random_seed: u64 = 0x7472_696e_6974_79,
};

pub const ConfigError = error{InvalidConfig};

pub const TrinityHybridNode = struct {
    allocator: Allocator,
    io: std.Io,
    mutex: std.Io.Mutex = .init,
    /// Change it through `setProvider`, which keeps `ranks` in step.
    catalogue: Catalogue = .{},
    /// The available providers in the catalogue's static orders, so that routing filters
    /// instead of sorting; recomputed on every change of the catalogue or of availability.
    ranks: selector.Ranks,
    board: health.Board,
    available: [ProviderId.count]bool = @splat(false),
    key_masks: [ProviderId.count][catalogue_module.key_mask_bytes_max]u8 = undefined,
    key_mask_lengths: [ProviderId.count]u8 = @splat(0),
    preferred_provider: ?ProviderId = null,
    strategy_default: Strategy,
    long_context_threshold_tokens: u64,
    rotation: u64 = 0,
    prng: std.Random.DefaultPrng,

    /// A node with no provider available. `io` supplies the mutex's futex and, for `infer`, the
    /// monotonic clock.
    pub fn create(allocator: Allocator, io: std.Io, options: Options) (Allocator.Error || ConfigError)!*TrinityHybridNode {
        options.breaker.validate() catch return error.InvalidConfig;
        const node = try allocator.create(TrinityHybridNode);
        node.* = .{
            .allocator = allocator,
            .io = io,
            .board = health.Board.init(options.breaker),
            .ranks = undefined,
            .strategy_default = options.strategy_default,
            .long_context_threshold_tokens = options.long_context_threshold_tokens,
            .prng = std.Random.DefaultPrng.init(options.random_seed),
        };
        node.ranks = .compute(&node.catalogue, node.available);
        return node;
    }

    /// Reads which providers have a key, model overrides and the default provider
    /// (`node_env.zig`).
    pub const initFromEnv = @import("node_env.zig").initFromEnv;

    pub fn destroy(node: *TrinityHybridNode) void {
        const allocator = node.allocator;
        allocator.destroy(node);
    }

    fn lock(node: *TrinityHybridNode) void {
        node.mutex.lockUncancelable(node.io);
    }

    fn unlock(node: *TrinityHybridNode) void {
        node.mutex.unlock(node.io);
    }

    /// Marks a provider usable. `key` is read once to build its mask and is not kept.
    pub fn setAvailable(node: *TrinityHybridNode, id: ProviderId, key: []const u8) void {
        node.lock();
        defer node.unlock();
        node.available[id.index()] = true;
        node.ranks = .compute(&node.catalogue, node.available);
        if (key.len == 0) {
            node.key_mask_lengths[id.index()] = 0;
            return;
        }
        const mask = catalogue_module.maskKey(key, &node.key_masks[id.index()]);
        node.key_mask_lengths[id.index()] = @intCast(mask.len);
    }

    pub fn setUnavailable(node: *TrinityHybridNode, id: ProviderId) void {
        node.lock();
        defer node.unlock();
        node.available[id.index()] = false;
        node.ranks = .compute(&node.catalogue, node.available);
        node.key_mask_lengths[id.index()] = 0;
    }

    pub fn isAvailable(node: *TrinityHybridNode, id: ProviderId) bool {
        node.lock();
        defer node.unlock();
        return node.available[id.index()];
    }

    pub fn setPreferredProvider(node: *TrinityHybridNode, id: ?ProviderId) void {
        node.lock();
        defer node.unlock();
        node.preferred_provider = id;
    }

    pub fn setStrategyDefault(node: *TrinityHybridNode, strategy: Strategy) void {
        node.lock();
        defer node.unlock();
        node.strategy_default = strategy;
    }

    pub fn setLongContextThreshold(node: *TrinityHybridNode, threshold_tokens: u64) void {
        node.lock();
        defer node.unlock();
        node.long_context_threshold_tokens = threshold_tokens;
    }

    pub fn configureBreaker(node: *TrinityHybridNode, config: health.Config) ConfigError!void {
        config.validate() catch return error.InvalidConfig;
        node.lock();
        defer node.unlock();
        node.board.config = config;
    }

    pub fn breakerConfig(node: *TrinityHybridNode) health.Config {
        node.lock();
        defer node.unlock();
        return node.board.config;
    }

    pub fn reseed(node: *TrinityHybridNode, seed: u64) void {
        node.lock();
        defer node.unlock();
        node.prng = std.Random.DefaultPrng.init(seed);
    }

    pub fn provider(node: *TrinityHybridNode, id: ProviderId) catalogue_module.Provider {
        node.lock();
        defer node.unlock();
        return node.catalogue.get(id).*;
    }

    pub fn setProvider(node: *TrinityHybridNode, entry: catalogue_module.Provider) ConfigError!void {
        if (entry.context_window_tokens == 0) return error.InvalidConfig;
        if (!(entry.speed_tokens_per_s > 0)) return error.InvalidConfig;
        if (!(entry.price_input_usd_per_mtok >= 0) or !(entry.price_output_usd_per_mtok >= 0)) return error.InvalidConfig;
        if (entry.model_len > catalogue_module.model_name_bytes_max) return error.InvalidConfig;
        node.lock();
        defer node.unlock();
        node.catalogue.getMutable(entry.id).* = entry;
        node.ranks = .compute(&node.catalogue, node.available);
    }

    /// Detects the prompt's language and size, then orders the providers for it. Detection and
    /// estimation run outside the lock: they read only the prompt.
    pub fn route(node: *TrinityHybridNode, prompt: []const u8, options: RouteOptions, now_ms: u64) Decision {
        const detection = language.detect(prompt);
        const chain = node.routeFor(prompt, language.isCjk(detection.language), options, now_ms);
        return .{
            .route = chain.route,
            .detection = detection,
            .tokens_estimated = chain.tokens_estimated,
            .tokens_estimate_exact = chain.tokens_estimate_exact,
        };
    }

    /// `route` without naming the language: the rules only ask whether the prompt is CJK, which
    /// the script pass decides (`language.isCjkText`) at a fraction of a full detection's cost.
    /// The chain is the same as `route`'s.
    pub fn routeChain(node: *TrinityHybridNode, prompt: []const u8, options: RouteOptions, now_ms: u64) Chain {
        return node.routeFor(prompt, language.isCjkText(prompt), options, now_ms);
    }

    fn routeFor(node: *TrinityHybridNode, prompt: []const u8, cjk: bool, options: RouteOptions, now_ms: u64) Chain {
        // No text has more tokens than bytes (tokens.zig guarantees it), so when the byte count
        // already fits every limit the estimate is compared with, the chain cannot depend on the
        // estimate and it is skipped: the costliest step of routing a short prompt.
        const tokens_bound = @as(u64, prompt.len) +| options.tokens_reserved_output;
        node.lock();
        if (node.boundDecides(tokens_bound)) {
            defer node.unlock();
            return node.selectLocked(cjk, tokens_bound, false, options, now_ms);
        }
        node.unlock();
        const tokens_estimated = tokens.estimate(prompt) +| options.tokens_reserved_output;
        assert(tokens_estimated <= tokens_bound);
        node.lock();
        defer node.unlock();
        return node.selectLocked(cjk, tokens_estimated, true, options, now_ms);
    }

    /// Whether a request of at most `tokens_bound` tokens is below the long-context threshold
    /// and fits every available provider's window. Called with the lock held.
    fn boundDecides(node: *const TrinityHybridNode, tokens_bound: u64) bool {
        if (tokens_bound > node.long_context_threshold_tokens) return false;
        for (std.meta.tags(ProviderId)) |id| {
            if (!node.available[id.index()]) continue;
            if (tokens_bound > node.catalogue.get(id).context_window_tokens) return false;
        }
        return true;
    }

    fn selectLocked(
        node: *TrinityHybridNode,
        cjk: bool,
        tokens_estimated: u64,
        tokens_estimate_exact: bool,
        options: RouteOptions,
        now_ms: u64,
    ) Chain {
        const strategy = options.strategy orelse node.strategy_default;
        const context: selector.Context = .{
            .catalogue = &node.catalogue,
            .board = &node.board,
            .available = node.available,
            .now_ms = now_ms,
            .long_context_threshold_tokens = node.long_context_threshold_tokens,
            .rotation = node.rotation,
            .random = node.prng.random(),
            .ranks = &node.ranks,
        };
        if (strategy == .round_robin) node.rotation +%= 1;
        const chosen = selector.select(context, .{
            .cjk = cjk,
            .tokens_estimated = tokens_estimated,
            .quality = options.quality,
            .force_provider = options.force_provider,
            .strategy = strategy,
            .preferred_provider = node.preferred_provider,
        });
        assert(chosen.len <= catalogue_module.providers_max);
        return .{ .route = chosen, .tokens_estimated = tokens_estimated, .tokens_estimate_exact = tokens_estimate_exact };
    }

    /// Asks the breaker whether a call to `id` may start now; reserves the half-open probe.
    pub fn admit(node: *TrinityHybridNode, id: ProviderId, now_ms: u64) health.Admission {
        node.lock();
        defer node.unlock();
        return node.board.admit(id, now_ms);
    }

    /// Records a successful call and returns its cost in USD at the catalogue's prices.
    pub fn recordSuccess(node: *TrinityHybridNode, id: ProviderId, now_ms: u64, latency_ms: u32, tokens_input: u64, tokens_output: u64) f64 {
        node.lock();
        defer node.unlock();
        const cost_usd = node.catalogue.get(id).costUsd(tokens_input, tokens_output);
        node.board.recordSuccess(id, now_ms, .{
            .latency_ms = latency_ms,
            .tokens_input = tokens_input,
            .tokens_output = tokens_output,
            .cost_usd = cost_usd,
        });
        return cost_usd;
    }

    /// Records a successful call the caller priced: prompt caching bills cached and cache-written
    /// tokens at their own prices, which the catalogue's input and output prices cannot say.
    pub fn recordSuccessPriced(node: *TrinityHybridNode, id: ProviderId, now_ms: u64, latency_ms: u32, tokens_input: u64, tokens_output: u64, cost_usd: f64) void {
        assert(std.math.isFinite(cost_usd) and cost_usd >= 0);
        node.lock();
        defer node.unlock();
        node.board.recordSuccess(id, now_ms, .{
            .latency_ms = latency_ms,
            .tokens_input = tokens_input,
            .tokens_output = tokens_output,
            .cost_usd = cost_usd,
        });
    }

    pub fn recordFailure(node: *TrinityHybridNode, id: ProviderId, now_ms: u64, failure: health.Failure) void {
        node.lock();
        defer node.unlock();
        node.board.recordFailure(id, now_ms, failure);
    }

    pub fn snapshot(node: *TrinityHybridNode, id: ProviderId, now_ms: u64) health.Snapshot {
        node.lock();
        defer node.unlock();
        return node.board.snapshot(id, now_ms);
    }

    pub fn reset(node: *TrinityHybridNode, id: ProviderId) void {
        node.lock();
        defer node.unlock();
        node.board.reset(id);
    }

    /// Applies another replica's breaker opening (see `health.Board.openUntil`).
    pub fn openUntil(node: *TrinityHybridNode, id: ProviderId, until_ms: u64) void {
        node.lock();
        defer node.unlock();
        node.board.openUntil(id, until_ms);
    }

    /// Applies another replica's breaker closing (see `health.Board.close`).
    pub fn closeBreaker(node: *TrinityHybridNode, id: ProviderId) void {
        node.lock();
        defer node.unlock();
        node.board.close(id);
    }

    pub fn releaseProbe(node: *TrinityHybridNode, id: ProviderId) void {
        node.lock();
        defer node.unlock();
        node.board.releaseProbe(id);
    }

    /// The status document, written as JSON. Shape:
    /// `{"providers": {"groq": {"total_calls": 10, "successful_calls": 9, "failed_calls": 1,
    /// "success_rate": "90.0%", "avg_latency": "2.34s", "is_healthy": true,
    /// "consecutive_failures": 0, ...}}, "total_calls": 15, "available_providers": ["groq"]}`.
    /// Providers appear when available or when they have been called.
    pub fn writeStatus(node: *TrinityHybridNode, writer: *std.Io.Writer, now_ms: u64) std.Io.Writer.Error!void {
        // Copy under the lock, format outside it: formatting is the slow part.
        var status: node_status.Status = undefined;
        {
            node.lock();
            defer node.unlock();
            for (std.meta.tags(ProviderId)) |id| status.snapshots[id.index()] = node.board.snapshot(id, now_ms);
            status.providers = node.catalogue.providers;
            status.available = node.available;
            status.masks = node.key_masks;
            status.mask_lengths = node.key_mask_lengths;
            status.preferred = node.preferred_provider;
            status.strategy_default = node.strategy_default;
        }
        try status.write(writer, now_ms);
    }

    /// Writes the status document to stderr.
    pub fn printStatus(node: *TrinityHybridNode, now_ms: u64) void {
        var buffer: [4096]u8 = undefined;
        var stderr = std.Io.File.stderr().writer(node.io, &buffer);
        node.writeStatus(&stderr.interface, now_ms) catch return;
        stderr.interface.writeByte('\n') catch return;
        stderr.interface.flush() catch return;
    }

    pub fn nowMs(node: *TrinityHybridNode) u64 {
        return monotonicMs(node.io);
    }

    pub const infer = @import("infer.zig").infer;
};

fn testNode() !*TrinityHybridNode {
    return TrinityHybridNode.create(std.testing.allocator, std.testing.io, .{});
}

test "route: CJK to zhipu, default to groq, local last" {
    const node = try testNode();
    defer node.destroy();
    for ([_]ProviderId{ .groq, .zhipu, .anthropic, .local }) |id| node.setAvailable(id, "key-for-tests-only");
    const chinese = node.route("请用中文解释量子计算的基本原理。", .{}, 0);
    try std.testing.expectEqual(ProviderId.zhipu, chinese.route.slice()[0]);
    try std.testing.expectEqual(Reason.cjk, chinese.route.reason);
    try std.testing.expectEqual(language.Language.zh, chinese.detection.language);
    const english = node.route("Explain how a transformer attends to its context.", .{}, 0);
    try std.testing.expectEqual(ProviderId.groq, english.route.slice()[0]);
    try std.testing.expectEqual(ProviderId.local, english.route.slice()[english.route.len - 1]);
    const quality = node.route("Write a careful legal summary.", .{ .quality = true }, 0);
    try std.testing.expectEqual(ProviderId.anthropic, quality.route.slice()[0]);
}

test "the chain follows availability and catalogue changes" {
    const node = try testNode();
    defer node.destroy();
    for ([_]ProviderId{ .groq, .google, .local }) |id| node.setAvailable(id, "key-for-tests-only");
    const prompt = "Explain how a transformer attends to its context.";
    try std.testing.expectEqualSlices(ProviderId, &.{ .groq, .google, .local }, node.routeChain(prompt, .{}, 0).route.slice());
    node.setUnavailable(.groq);
    try std.testing.expectEqualSlices(ProviderId, &.{ .google, .local }, node.routeChain(prompt, .{}, 0).route.slice());
    node.setAvailable(.groq, "key-for-tests-only");
    var google = node.provider(.google);
    google.speed_tokens_per_s = 1_000;
    try node.setProvider(google);
    try std.testing.expectEqualSlices(ProviderId, &.{ .google, .groq, .local }, node.routeChain(prompt, .{}, 0).route.slice());
}

test "skipping the estimate never changes the chain" {
    const node = try testNode();
    defer node.destroy();
    for ([_]ProviderId{ .groq, .zhipu, .anthropic, .local }) |id| node.setAvailable(id, "key-for-tests-only");
    var prng = std.Random.DefaultPrng.init(42);
    var buffer: [20_000]u8 = undefined;
    for (0..200) |_| {
        const length = prng.random().uintLessThan(usize, buffer.len);
        for (buffer[0..length]) |*byte| byte.* = "abc def 你好\n"[prng.random().uintLessThan(usize, 13)];
        const prompt = buffer[0..length];
        const reserved = prng.random().uintLessThan(u64, 10_000);
        const decision = node.route(prompt, .{ .tokens_reserved_output = reserved }, 0);
        const exact = tokens.estimate(prompt) + reserved;
        if (!decision.tokens_estimate_exact) try std.testing.expect(decision.tokens_estimated >= exact);
        // The same selection with the exact estimate gives the same chain.
        node.lock();
        const reference = node.selectLocked(language.isCjk(decision.detection.language), exact, true, .{ .tokens_reserved_output = reserved }, 0);
        node.unlock();
        try std.testing.expectEqualSlices(ProviderId, reference.route.slice(), decision.route.slice());
        try std.testing.expectEqual(reference.route.reason, decision.route.reason);
        // And the chain without the language's name is the same chain.
        const chain = node.routeChain(prompt, .{ .tokens_reserved_output = reserved }, 0);
        try std.testing.expectEqualSlices(ProviderId, decision.route.slice(), chain.route.slice());
        try std.testing.expectEqual(decision.route.reason, chain.route.reason);
        try std.testing.expectEqual(decision.tokens_estimated, chain.tokens_estimated);
    }
}

test "cost comes from the catalogue's prices" {
    const node = try testNode();
    defer node.destroy();
    const cost_usd = node.recordSuccess(.anthropic, 0, 100, 1_000_000, 1_000_000);
    try std.testing.expectApproxEqAbs(@as(f64, 18.0), cost_usd, 1e-9);
    try std.testing.expectApproxEqAbs(@as(f64, 18.0), node.snapshot(.anthropic, 0).cost_usd, 1e-9);
}

test "many threads recording at once give exact totals" {
    const node = try testNode();
    defer node.destroy();
    const threads_count = 8;
    const calls_per_thread = 2_000;
    const Worker = struct {
        fn run(target: *TrinityHybridNode, worker_index: usize) void {
            for (0..calls_per_thread) |call_index| {
                const id: ProviderId = @fromBackingInt(@intCast((worker_index + call_index) % ProviderId.count));
                if (call_index % 3 == 0) {
                    target.recordFailure(id, 0, .{ .kind = .client });
                } else {
                    _ = target.recordSuccess(id, 0, 5, 1, 1);
                }
            }
        }
    };
    var threads: [threads_count]std.Thread = undefined;
    for (&threads, 0..) |*thread, worker_index| thread.* = try std.Thread.spawn(.{}, Worker.run, .{ node, worker_index });
    for (threads) |thread| thread.join();
    var calls_total: u64 = 0;
    var calls_failed: u64 = 0;
    for (std.meta.tags(ProviderId)) |id| {
        const entry = node.snapshot(id, 0);
        calls_total += entry.calls_total;
        calls_failed += entry.calls_failed;
    }
    try std.testing.expectEqual(@as(u64, threads_count * calls_per_thread), calls_total);
    try std.testing.expectEqual(@as(u64, threads_count * ((calls_per_thread + 2) / 3)), calls_failed);
}
