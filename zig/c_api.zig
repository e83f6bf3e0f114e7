//! The C ABI: every `export fn` of the library lives here and nowhere else. This file translates
//! between C types and the Zig core: it checks every pointer and index that crosses the boundary,
//! turns Zig errors into `th_status` codes, and never lets a Zig panic reach a caller for bad
//! input. `include/trinity_hybrid.h` declares the same functions and structs; the comptime checks
//! below keep the two in step.
const std = @import("std");
const assert = std.debug.assert;
const core = @import("trinity_hybrid");

const catalogue = core.catalogue;
const health = core.health;
const language = core.language;
const script = core.script;
const selector = core.selector;
const ProviderId = core.ProviderId;
const TrinityHybridNode = core.TrinityHybridNode;

pub const abi_version: u32 = 8;
const version_text = "0.1.0";

pub const Status = enum(c_int) {
    ok = 0,
    invalid_argument = 1,
    out_of_memory = 2,
    unknown_provider = 3,
    buffer_too_small = 4,
    invalid_config = 5,
};

const strategy_node_default: u32 = std.math.maxInt(u32);
const provider_none: i32 = -1;

pub const Detection = extern struct {
    language: u32,
    confidence: f32,
    letters: u32,
    bytes_invalid: u32,
    script_shares: [script.script_count]f32,
};

pub const ProviderInfo = extern struct {
    model: [catalogue.model_name_bytes_max + 1]u8,
    context_window_tokens: u32,
    quality_tier: u32,
    speed_tokens_per_s: f32,
    price_input_usd_per_mtok: f64,
    price_output_usd_per_mtok: f64,
    strengths: u8,
    local: u8,
    priority: u8,
    reserved: u8,
};

pub const BreakerConfig = extern struct {
    failure_threshold: u32,
    reserved: u32,
    cooldown_ms: u64,
    credential_cooldown_ms: u64,
    quota_cooldown_ms: u64,
    probe_lease_ms: u64,
    ewma_alpha: f64,
};

pub const Route = extern struct {
    providers_len: u8,
    tokens_estimate_exact: u8,
    reserved: u16,
    reason: u32,
    tokens_estimated: u64,
    providers: [catalogue.providers_max]u8,
    detection: Detection,
};

pub const ProviderStats = extern struct {
    calls_total: u64,
    calls_successful: u64,
    calls_failed: u64,
    calls_client_error: u64,
    tokens_input: u64,
    tokens_output: u64,
    open_until_ms: u64,
    cost_usd: f64,
    success_rate: f64,
    latency_ms_average: f64,
    latency_ms_ewma: f64,
    latency_ms_p50: f64,
    latency_ms_p95: f64,
    latency_ms_p99: f64,
    failures_consecutive: u32,
    state: u32,
    last_failure_kind: i32,
    healthy: u8,
    available: u8,
    reserved: [2]u8,
};

// The header spells these sizes out; a change here without a change there breaks every binding.
comptime {
    assert(script.script_count == 12);
    assert(catalogue.providers_max == 16);
    assert(catalogue.model_name_bytes_max + 1 == 96);
    assert(catalogue.key_mask_bytes_max == 11);
    assert(@sizeOf(Detection) == 16 + 4 * 12);
    assert(@sizeOf(ProviderInfo) == 96 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 4);
    assert(@sizeOf(BreakerConfig) == 48);
    assert(@offsetOf(Route, "detection") == 32);
    assert(@sizeOf(ProviderStats) == 7 * 8 + 7 * 8 + 3 * 4 + 4);
    assert(@backingInt(health.FailureKind.quota_exhausted) == 4);
    assert(@backingInt(health.Admission.denied_probe_in_flight) == 3);
    assert(@backingInt(health.CircuitState.half_open) == 2);
}

/// The opaque `th_node`. The allocator is thread-safe and needs no libc, so the library links
/// nothing but the system's kernel interface.
const allocator = std.heap.smp_allocator;

fn io() std.Io {
    // Only the mutex's futex and the monotonic clock are used through this `Io`, so the
    // process-wide instance is enough.
    return std.Io.Threaded.global_single_threaded.io();
}

fn textSlice(text: ?[*]const u8, text_len: usize) ?[]const u8 {
    if (text_len == 0) return "";
    const pointer = text orelse return null;
    return pointer[0..text_len];
}

fn providerFromIndex(index: u32) ?ProviderId {
    if (index >= ProviderId.count) return null;
    return @fromBackingInt(@intCast(index));
}

fn enumName(comptime E: type, index: u32) ?[*:0]const u8 {
    const names = comptime std.meta.fieldNames(E);
    if (index >= names.len) return null;
    return names[index].ptr;
}

// ---------------------------------------------------------------------------------------------
// Versions and names.

export fn th_abi_version() u32 {
    return abi_version;
}

export fn th_version() [*:0]const u8 {
    return version_text;
}

/// The x86-64 level this machine runs (0 baseline, 3 x86-64-v3): a binding that ships a build
/// for each asks the baseline one which to load.
export fn th_cpu_level() u32 {
    return @backingInt(core.cpu.machineLevel());
}

/// The x86-64 level this library was compiled for.
export fn th_cpu_level_built() u32 {
    return @backingInt(core.cpu.buildLevel());
}

export fn th_provider_count() u32 {
    return ProviderId.count;
}

export fn th_provider_name(provider: u32) ?[*:0]const u8 {
    return enumName(ProviderId, provider);
}

export fn th_provider_key_variable(provider: u32, position: u32) ?[*:0]const u8 {
    const id = providerFromIndex(provider) orelse return null;
    const variables = catalogue.environment[id.index()].key_variables;
    if (position >= variables.len) return null;
    return cString(variables[position]);
}

export fn th_provider_model_variable(provider: u32) ?[*:0]const u8 {
    const id = providerFromIndex(provider) orelse return null;
    return cString(catalogue.environment[id.index()].model_variable);
}

export fn th_provider_base_url_variable(provider: u32) ?[*:0]const u8 {
    const id = providerFromIndex(provider) orelse return null;
    return cString(catalogue.environment[id.index()].base_url_variable);
}

/// The environment table holds string literals, which Zig NUL-terminates; this checks it.
fn cString(text: []const u8) [*:0]const u8 {
    assert(text.ptr[text.len] == 0);
    return @ptrCast(text.ptr);
}

export fn th_language_count() u32 {
    return @intCast(std.meta.fieldNames(language.Language).len);
}

export fn th_language_code(index: u32) ?[*:0]const u8 {
    return enumName(language.Language, index);
}

export fn th_script_name(index: u32) ?[*:0]const u8 {
    return enumName(script.Script, index);
}

export fn th_strategy_count() u32 {
    return @intCast(std.meta.fieldNames(selector.Strategy).len);
}

export fn th_strategy_name(index: u32) ?[*:0]const u8 {
    return enumName(selector.Strategy, index);
}

export fn th_reason_count() u32 {
    return @intCast(std.meta.fieldNames(selector.Reason).len);
}

export fn th_reason_name(index: u32) ?[*:0]const u8 {
    return enumName(selector.Reason, index);
}

export fn th_state_name(index: u32) ?[*:0]const u8 {
    return enumName(health.CircuitState, index);
}

export fn th_failure_kind_name(index: u32) ?[*:0]const u8 {
    return enumName(health.FailureKind, index);
}

// ---------------------------------------------------------------------------------------------
// Text features.

fn detectionToC(detection: language.Detection) Detection {
    return .{
        .language = @backingInt(detection.language),
        .confidence = detection.confidence,
        .letters = detection.letters,
        .bytes_invalid = detection.bytes_invalid,
        .script_shares = detection.script_shares,
    };
}

export fn th_detect_language(text: ?[*]const u8, text_len: usize, out: ?*Detection) Status {
    const bytes = textSlice(text, text_len) orelse return .invalid_argument;
    const target = out orelse return .invalid_argument;
    target.* = detectionToC(language.detect(bytes));
    return .ok;
}

/// `th_detect_language` in one small integer, for bindings whose per-call cost is dominated by
/// marshalling (cffi in ABI mode pays for every argument and every struct read): bits 0-4 the
/// language index, bits 5-28 the confidence in 24-bit fixed point. It stays below 2^30 so that
/// CPython holds it in a single digit, where its shifts and masks take the fast paths. Letter
/// counts and script shares need the full call. The language index 31 means a bad argument.
pub const detection_packed_language_bits = 5;
pub const detection_packed_invalid: u32 = (1 << detection_packed_language_bits) - 1;
pub const confidence_packed_one: u32 = (1 << 24) - 1;

comptime {
    assert(@typeInfo(language.Language).@"enum".field_names.len < detection_packed_invalid);
    assert(confidence_packed_one << detection_packed_language_bits | detection_packed_invalid < 1 << 30);
}

fn detectionPacked(detection: language.Detection) u32 {
    assert(detection.confidence >= 0.0);
    assert(detection.confidence <= 1.0);
    const confidence: u32 = @intFromFloat(@round(detection.confidence * @as(f32, confidence_packed_one)));
    assert(confidence <= confidence_packed_one);
    return @as(u32, @backingInt(detection.language)) | confidence << detection_packed_language_bits;
}

export fn th_detect_language_packed(text: ?[*]const u8, text_len: usize) u32 {
    const bytes = textSlice(text, text_len) orelse return detection_packed_invalid;
    return detectionPacked(language.detect(bytes));
}

/// `th_detect_language_packed` of a NUL-terminated text: one argument less through a binding
/// such as cffi's ABI mode, where each costs more than finding the NUL.
export fn th_detect_language_text(text: ?[*:0]const u8) u32 {
    const bytes = text orelse return detection_packed_invalid;
    return detectionPacked(language.detect(bytes[0..textLength(bytes)]));
}

export fn th_estimate_tokens(text: ?[*]const u8, text_len: usize) u64 {
    const bytes = textSlice(text, text_len) orelse return 0;
    return core.tokens.estimate(bytes);
}

export fn th_mask_key(key: ?[*]const u8, key_len: usize, out: ?[*]u8, out_capacity: usize, out_len: ?*usize) Status {
    const key_bytes = textSlice(key, key_len) orelse return .invalid_argument;
    const target = out orelse return .invalid_argument;
    const length_target = out_len orelse return .invalid_argument;
    var buffer: [catalogue.key_mask_bytes_max]u8 = undefined;
    const mask = catalogue.maskKey(key_bytes, &buffer);
    length_target.* = mask.len;
    if (out_capacity < mask.len) return .buffer_too_small;
    @memcpy(target[0..mask.len], mask);
    return .ok;
}

// ---------------------------------------------------------------------------------------------
// The node.

export fn th_node_create(out: ?*?*TrinityHybridNode) Status {
    const target = out orelse return .invalid_argument;
    target.* = TrinityHybridNode.create(allocator, io(), .{}) catch |err| return switch (err) {
        error.OutOfMemory => .out_of_memory,
        error.InvalidConfig => .invalid_config,
    };
    return .ok;
}

export fn th_node_destroy(node: ?*TrinityHybridNode) void {
    const target = node orelse return;
    target.destroy();
}

export fn th_node_set_available(node: ?*TrinityHybridNode, provider: u32, available: u8, key: ?[*]const u8, key_len: usize) Status {
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

fn strategyFromIndex(index: u32) ?selector.Strategy {
    if (index >= std.meta.fieldNames(selector.Strategy).len) return null;
    return @fromBackingInt(@intCast(index));
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

export fn th_node_route(
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

const length_block_bytes = 16;

/// `std.mem.len` of a NUL-terminated text, a 16-byte block at a time: in Zig 0.17 `std.mem.len`
/// is a byte loop, about 3 instructions a byte (a third of routing a short prompt). Blocks are
/// read at 16-byte-aligned addresses, which never straddle a page, so the bytes read before
/// the text and after its NUL are mapped memory: the technique of every libc's strlen.
fn textLength(text: [*:0]const u8) usize {
    const Block = @Vector(length_block_bytes, u8);
    const Mask = @Int(.unsigned, length_block_bytes);
    const start = @intFromPtr(text);
    var address = start & ~@as(usize, length_block_bytes - 1);
    // The first block: bytes before the text are not NULs of the text.
    var block: Block = @as(*const Block, @ptrFromInt(address)).*;
    var zeros: Mask = @bitCast(block == @as(Block, @splat(0)));
    zeros &= ~@as(Mask, 0) << @intCast(start - address);
    while (zeros == 0) {
        address += length_block_bytes;
        block = @as(*const Block, @ptrFromInt(address)).*;
        zeros = @bitCast(block == @as(Block, @splat(0)));
    }
    const length = address + @ctz(zeros) - start;
    assert(text[length] == 0);
    return length;
}

test "textLength agrees with std.mem.len at every alignment, across a page boundary" {
    const page_bytes = std.heap.page_size_min;
    const memory = try std.testing.allocator.alignedAlloc(u8, .fromByteUnits(page_bytes), 2 * page_bytes);
    defer std.testing.allocator.free(memory);
    for (0..3 * length_block_bytes) |length| {
        for ([_]usize{ 0, page_bytes - 3 * length_block_bytes }) |region| {
            for (0..length_block_bytes) |offset| {
                const begin = region + offset;
                @memset(memory, 'a');
                // NUL bytes just before the text must not count.
                if (begin > 0) memory[begin - 1] = 0;
                memory[begin + length] = 0;
                const text: [*:0]const u8 = @ptrCast(&memory[begin]);
                try std.testing.expectEqual(std.mem.len(text), textLength(text));
                try std.testing.expectEqual(length, textLength(text));
            }
        }
    }
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

test "names cover every enumeration and stop at the end" {
    try std.testing.expectEqualStrings("groq", std.mem.span(th_provider_name(@backingInt(ProviderId.groq)).?));
    try std.testing.expect(th_provider_name(ProviderId.count) == null);
    try std.testing.expectEqualStrings("und", std.mem.span(th_language_code(0).?));
    try std.testing.expectEqualStrings("MOONSHOT_API_KEY", std.mem.span(th_provider_key_variable(@backingInt(ProviderId.kimi), 1).?));
    try std.testing.expect(th_provider_key_variable(@backingInt(ProviderId.local), 0) == null);
    try std.testing.expect(th_strategy_name(th_strategy_count()) == null);
}

test "bad arguments get a status, not a crash" {
    var detection: Detection = undefined;
    try std.testing.expectEqual(Status.invalid_argument, th_detect_language(null, 3, &detection));
    try std.testing.expectEqual(Status.ok, th_detect_language(null, 0, &detection));
    try std.testing.expectEqual(Status.invalid_argument, th_node_route(null, null, 0, 0, 0, provider_none, 0, 0, null));
    var node: ?*TrinityHybridNode = null;
    try std.testing.expectEqual(Status.ok, th_node_create(&node));
    defer th_node_destroy(node);
    try std.testing.expectEqual(Status.unknown_provider, th_node_record_failure(node, 99, 0, 0, 0, 0));
    try std.testing.expectEqual(Status.invalid_argument, th_node_record_failure(node, 0, 0, 99, 0, 0));
    try std.testing.expectEqual(Status.unknown_provider, th_node_set_preferred_provider(node, -7));
    var route: Route = undefined;
    try std.testing.expectEqual(Status.unknown_provider, th_node_route(node, "hello", 5, 0, 0, 42, strategy_node_default, 0, &route));
    try std.testing.expectEqual(Status.invalid_argument, th_node_route(node, "hello", 5, 0, 0, provider_none, 77, 0, &route));
    try std.testing.expectEqual(Status.invalid_argument, th_node_route(node, null, 5, 0, 0, provider_none, strategy_node_default, 0, &route));
    try std.testing.expectEqual(Status.ok, th_node_route(node, null, 0, 0, 0, provider_none, strategy_node_default, 0, &route));
    var small: [4]u8 = undefined;
    var needed: usize = 0;
    try std.testing.expectEqual(Status.buffer_too_small, th_node_status_json(node, 0, &small, small.len, &needed));
    try std.testing.expect(needed > small.len);
}

test "the packed route carries the same chain and reason as the full route" {
    var node: ?*TrinityHybridNode = null;
    try std.testing.expectEqual(Status.ok, th_node_create(&node));
    defer th_node_destroy(node);
    const keys = [_][]const u8{ "gsk_0123456789", "zhipu_0123456789", "sk-ant-0123456789" };
    const ids = [_]ProviderId{ .groq, .zhipu, .anthropic };
    for (ids, keys) |id, key| {
        try std.testing.expectEqual(Status.ok, th_node_set_available(node, @backingInt(id), 1, key.ptr, key.len));
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
    try std.testing.expectEqual(Status.ok, th_node_create(&node));
    defer th_node_destroy(node);
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
    try std.testing.expectEqual(Status.ok, th_node_set_available(node, @backingInt(ProviderId.groq), 1, "k-0123456789", 12));
    const latin: RoutePacked = @bitCast(th_node_route_text(node, "hi"));
    const cjk: RoutePacked = @bitCast(th_node_route_text(node, "\xe4\xbd\xa0\xe5\xa5\xbd"));
    try std.testing.expectEqual(@as(u4, @backingInt(core.selector.Reason.default_fastest)), latin.reason);
    try std.testing.expectEqual(@as(u4, @backingInt(core.selector.Reason.cjk)), cjk.reason);
    try std.testing.expectEqual(RoutePacked.failure(.invalid_argument), th_node_route_packed(node, null, 2, 0, 0));
}

test "the packed detection agrees with the full one" {
    const texts = [_][]const u8{ "Hello there, how are you?", "日本の首都はどこですか", "", "12345", "Привет, как дела?" };
    for (texts) |text| {
        var full: Detection = undefined;
        try std.testing.expectEqual(Status.ok, th_detect_language(text.ptr, text.len, &full));
        const word = th_detect_language_packed(text.ptr, text.len);
        try std.testing.expect(word < 1 << 30);
        try std.testing.expectEqual(full.language, word & detection_packed_invalid);
        const confidence: f32 = @as(f32, @floatFromInt(word >> detection_packed_language_bits)) / @as(f32, confidence_packed_one);
        try std.testing.expectApproxEqAbs(full.confidence, confidence, 1e-6);
    }
    try std.testing.expectEqual(detection_packed_invalid, th_detect_language_packed(null, 3));
    try std.testing.expectEqual(detection_packed_invalid, th_detect_language_text(null));
    // The text ends at its NUL: Russian, then the same Russian after an English word and a NUL.
    const russian = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80";
    try std.testing.expectEqual(th_detect_language_packed(russian, russian.len), th_detect_language_text(russian));
    try std.testing.expectEqual(th_detect_language_packed("hello", 5), th_detect_language_text("hello\x00" ++ russian));
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
