//! The C ABI's routing: a prompt through a node to its provider chain, as a full `th_route`
//! or packed into one word (with its options packed into another), and the clock the breaker
//! runs on. Part of the library's C ABI, which `c_api.zig` roots.
const std = @import("std");
const assert = std.debug.assert;
const core = @import("trinity_hybrid");
const c_api = @import("c_api.zig");
const c_api_node = @import("c_api_node.zig");
const c_api_text = @import("c_api_text.zig");

const language = core.language;
const selector = core.selector;
const ProviderId = core.ProviderId;
const TrinityHybridNode = core.TrinityHybridNode;
const Route = c_api.Route;
const Status = c_api.Status;
const io = c_api.io;
const provider_none = c_api.provider_none;
const strategy_node_default = c_api.strategy_node_default;
const providerFromIndex = c_api.providerFromIndex;
const strategyFromIndex = c_api.strategyFromIndex;
const textLength = c_api.textLength;
const textSlice = c_api.textSlice;
const detectionToC = c_api_text.detectionToC;

pub export fn th_node_route(
    node: ?*TrinityHybridNode,
    text: ?[*]const u8,
    text_len: usize,
    now_ms: u64,
    tokens_reserved_output: u64,
    force_provider: i32,
    strategy: u32,
    quality: u8,
    out: ?*Route,
) Status {
    const target = node orelse return .invalid_argument;
    const destination = out orelse return .invalid_argument;
    const prompt = textSlice(text, text_len) orelse return .invalid_argument;
    var options: core.node.RouteOptions = .{
        .quality = quality != 0,
        .tokens_reserved_output = tokens_reserved_output,
    };
    if (force_provider != provider_none) {
        if (force_provider < 0) return .unknown_provider;
        options.force_provider = providerFromIndex(@intCast(force_provider)) orelse return .unknown_provider;
    }
    if (strategy != strategy_node_default) {
        options.strategy = strategyFromIndex(strategy) orelse return .invalid_argument;
    }
    const decision = target.route(prompt, options, now_ms);
    destination.* = .{
        .providers_len = decision.route.len,
        .tokens_estimate_exact = @intFromBool(decision.tokens_estimate_exact),
        .reserved = 0,
        .reason = @backingInt(decision.route.reason),
        .tokens_estimated = decision.tokens_estimated,
        .providers = @splat(0),
        .detection = detectionToC(decision.detection),
    };
    for (decision.route.slice(), 0..) |id, position| destination.providers[position] = @backingInt(id);
    return .ok;
}

/// The clock the breaker runs on, in milliseconds. Bindings read time here rather than from
/// their own runtime so that both sides of the ABI agree on every platform.
export fn th_monotonic_ms() u64 {
    return core.node.monotonicMs(io());
}

/// `now_ms` value that asks `th_node_route_packed` to read `th_monotonic_ms` itself.
pub const now_ms_clock: u64 = std.math.maxInt(u64);

/// Options of `th_node_route_packed` in one word: bits 0-31 the output tokens to reserve,
/// 32-39 the forced provider plus one (0: none), 40-47 the strategy plus one (0: the node's
/// default), bit 48 quality.
const RouteOptionsPacked = packed struct(u64) {
    tokens_reserved_output: u32,
    force_provider_plus_one: u8,
    strategy_plus_one: u8,
    quality: bool,
    reserved: u15,
};

/// The route in one word: bits 0-3 the chain's length (15: an error, whose status is in bits
/// 32-63), 4-7 the reason, 8-15 zero, then four bits per provider from bit 16. The language and
/// the token estimate are left to their own calls: the chain needs neither (`routeChain`).
const RoutePacked = packed struct(u64) {
    providers_len: u4,
    reason: u4,
    reserved: u8 = 0,
    providers: u48,

    const error_len: u4 = 15;
    const provider_bits = 4;
    const providers_capacity = @bitSizeOf(u48) / provider_bits;

    fn failure(status: Status) u64 {
        assert(status != .ok);
        return @as(u64, error_len) | @as(u64, @intCast(@backingInt(status))) << 32;
    }
};

comptime {
    assert(ProviderId.count <= RoutePacked.providers_capacity);
    assert(ProviderId.count < RoutePacked.error_len);
    assert(ProviderId.count <= 1 << RoutePacked.provider_bits);
    assert(std.meta.fieldNames(selector.Reason).len <= 1 << @bitSizeOf(u4));
    assert(@typeInfo(language.Language).@"enum".field_names.len <= 1 << 8);
}

export fn th_node_route_packed(node: ?*TrinityHybridNode, text: ?[*]const u8, text_len: usize, options_packed: u64, now_ms: u64) u64 {
    const target = node orelse return RoutePacked.failure(.invalid_argument);
    const prompt = textSlice(text, text_len) orelse return RoutePacked.failure(.invalid_argument);
    const packed_options: RouteOptionsPacked = @bitCast(options_packed);
    if (packed_options.reserved != 0) return RoutePacked.failure(.invalid_argument);
    var options: core.node.RouteOptions = .{
        .quality = packed_options.quality,
        .tokens_reserved_output = packed_options.tokens_reserved_output,
    };
    if (packed_options.force_provider_plus_one != 0) {
        options.force_provider = providerFromIndex(packed_options.force_provider_plus_one - 1) orelse
            return RoutePacked.failure(.unknown_provider);
    }
    if (packed_options.strategy_plus_one != 0) {
        options.strategy = strategyFromIndex(packed_options.strategy_plus_one - 1) orelse
            return RoutePacked.failure(.invalid_argument);
    }
    const moment = if (now_ms == now_ms_clock) core.node.monotonicMs(io()) else now_ms;
    const decision = target.routeChain(prompt, options, moment);
    const chain = decision.route.slice();
    assert(chain.len <= RoutePacked.providers_capacity);
    var providers: u48 = 0;
    for (chain, 0..) |id, position| {
        providers |= @as(u48, @backingInt(id)) << @intCast(position * RoutePacked.provider_bits);
    }
    const result: RoutePacked = .{
        .providers_len = @intCast(chain.len),
        .reason = @intCast(@backingInt(decision.route.reason)),
        .providers = providers,
    };
    assert(result.providers_len != RoutePacked.error_len);
    return @bitCast(result);
}

/// `th_node_route_packed` with no options, on the node's clock: the common call, in three
/// arguments instead of five. Through cffi's ABI mode each argument costs about as much as the
/// routing of a short prompt itself (measured: bench/results/route.json).
export fn th_node_route_default(node: ?*TrinityHybridNode, text: ?[*]const u8, text_len: usize) u64 {
    return th_node_route_packed(node, text, text_len, 0, now_ms_clock);
}

/// `th_node_route_default` of a NUL-terminated text, which therefore holds no NUL of its own:
/// two arguments. Python's bytes objects end in a NUL that cffi passes along, so the binding
/// calls this for every prompt without a NUL (about 650 instructions less than passing the
/// length, callgrind).
export fn th_node_route_text(node: ?*TrinityHybridNode, text: ?[*:0]const u8) u64 {
    const bytes = text orelse return RoutePacked.failure(.invalid_argument);
    return th_node_route_packed(node, bytes, textLength(bytes), 0, now_ms_clock);
}

test "the packed route carries the same chain and reason as the full route" {
    var node: ?*TrinityHybridNode = null;
    try std.testing.expectEqual(Status.ok, c_api_node.th_node_create(&node));
    defer c_api_node.th_node_destroy(node);
    const keys = [_][]const u8{ "gsk_0123456789", "zhipu_0123456789", "sk-ant-0123456789" };
    const ids = [_]ProviderId{ .groq, .zhipu, .anthropic };
    for (ids, keys) |id, key| {
        try std.testing.expectEqual(Status.ok, c_api_node.th_node_set_available(node, @backingInt(id), 1, key.ptr, key.len));
    }
    const prompts = [_][]const u8{ "Explain photosynthesis.", "请用中文解释量子计算。", "", "Привет", "東京", "Translate 你好 into English" };
    for (prompts) |prompt| {
        for ([_]u8{ 0, 1 }) |quality| {
            var full: Route = undefined;
            try std.testing.expectEqual(Status.ok, th_node_route(node, prompt.ptr, prompt.len, 5, 0, provider_none, strategy_node_default, quality, &full));
            const options: u64 = @as(u64, quality) << 48;
            const word: RoutePacked = @bitCast(th_node_route_packed(node, prompt.ptr, prompt.len, options, 5));
            try std.testing.expectEqual(full.providers_len, word.providers_len);
            try std.testing.expectEqual(full.reason, word.reason);
            for (full.providers[0..full.providers_len], 0..) |id, position| {
                const shift: u6 = @intCast(position * RoutePacked.provider_bits);
                try std.testing.expectEqual(@as(u48, id), (word.providers >> shift) & 0xF);
            }
        }
    }
    const forced: RoutePacked = @bitCast(th_node_route_packed(node, "hi", 2, @as(u64, @backingInt(ProviderId.zhipu) + 1) << 32, now_ms_clock));
    try std.testing.expectEqual(@as(u4, 1), forced.providers_len);
    try std.testing.expectEqual(@as(u48, @backingInt(ProviderId.zhipu)), forced.providers);
}

test "the packed route reports bad arguments as an error word" {
    var node: ?*TrinityHybridNode = null;
    try std.testing.expectEqual(Status.ok, c_api_node.th_node_create(&node));
    defer c_api_node.th_node_destroy(node);
    const cases = [_]struct { options: u64, status: Status }{
        .{ .options = @as(u64, 99) << 32, .status = .unknown_provider },
        .{ .options = @as(u64, 99) << 40, .status = .invalid_argument },
        .{ .options = @as(u64, 1) << 60, .status = .invalid_argument },
    };
    for (cases) |case| {
        const word = th_node_route_packed(node, "hi", 2, case.options, 0);
        try std.testing.expectEqual(@as(u64, RoutePacked.error_len), word & 0xF);
        try std.testing.expectEqual(@as(u64, @intCast(@backingInt(case.status))), word >> 32);
    }
    try std.testing.expectEqual(RoutePacked.failure(.invalid_argument), th_node_route_packed(null, "hi", 2, 0, 0));
    try std.testing.expectEqual(RoutePacked.failure(.invalid_argument), th_node_route_default(null, "hi", 2));
    try std.testing.expectEqual(th_node_route_packed(node, "hi", 2, 0, now_ms_clock), th_node_route_default(node, "hi", 2));
    try std.testing.expectEqual(RoutePacked.failure(.invalid_argument), th_node_route_text(null, "hi"));
    try std.testing.expectEqual(RoutePacked.failure(.invalid_argument), th_node_route_text(node, null));
    // The text ends at its NUL: a CJK prompt, then the same bytes cut before the CJK.
    try std.testing.expectEqual(th_node_route_default(node, "\xe4\xbd\xa0\xe5\xa5\xbd", 6), th_node_route_text(node, "\xe4\xbd\xa0\xe5\xa5\xbd"));
    try std.testing.expectEqual(th_node_route_default(node, "hi", 2), th_node_route_text(node, "hi\x00\xe4\xbd\xa0\xe5\xa5\xbd"));
    // With one provider available, the two texts route by different rules.
    try std.testing.expectEqual(Status.ok, c_api_node.th_node_set_available(node, @backingInt(ProviderId.groq), 1, "k-0123456789", 12));
    const latin: RoutePacked = @bitCast(th_node_route_text(node, "hi"));
    const cjk: RoutePacked = @bitCast(th_node_route_text(node, "\xe4\xbd\xa0\xe5\xa5\xbd"));
    try std.testing.expectEqual(@as(u4, @backingInt(core.selector.Reason.default_fastest)), latin.reason);
    try std.testing.expectEqual(@as(u4, @backingInt(core.selector.Reason.cjk)), cjk.reason);
    try std.testing.expectEqual(RoutePacked.failure(.invalid_argument), th_node_route_packed(node, null, 2, 0, 0));
}
