//! The C ABI: every `export fn` of the library lives in this file and in the c_api files it
//! imports (`c_api_text.zig`, `c_api_node.zig`, `c_api_route.zig`), and nowhere else. These files
//! translate between C types and the Zig core: they check every pointer and index that crosses
//! the boundary, turn Zig errors into `th_status` codes, and never let a Zig panic reach a caller
//! for bad input. `include/trinity_hybrid.h` declares the same functions and structs; the
//! comptime checks below keep the two in step. This file holds what the others share (the
//! version, the status codes, the structs, the checks of arguments) and the names.
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

const c_api_text = @import("c_api_text.zig");
const c_api_node = @import("c_api_node.zig");
const c_api_route = @import("c_api_route.zig");

// The library exports what the c_api files export: each is referenced here so that it is built.
comptime {
    _ = c_api_text;
    _ = c_api_node;
    _ = c_api_route;
}

pub const abi_version: u32 = 9;
const version_text = "0.1.0";

pub const Status = enum(c_int) {
    ok = 0,
    invalid_argument = 1,
    out_of_memory = 2,
    unknown_provider = 3,
    buffer_too_small = 4,
    invalid_config = 5,
};

pub const strategy_node_default: u32 = std.math.maxInt(u32);
pub const provider_none: i32 = -1;

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
pub const allocator = std.heap.smp_allocator;

pub fn io() std.Io {
    // Only the mutex's futex and the monotonic clock are used through this `Io`, so the
    // process-wide instance is enough.
    return std.Io.Threaded.global_single_threaded.io();
}

pub fn textSlice(text: ?[*]const u8, text_len: usize) ?[]const u8 {
    if (text_len == 0) return "";
    const pointer = text orelse return null;
    return pointer[0..text_len];
}

pub fn providerFromIndex(index: u32) ?ProviderId {
    if (index >= ProviderId.count) return null;
    return @fromBackingInt(@intCast(index));
}

fn enumName(comptime E: type, index: u32) ?[*:0]const u8 {
    const names = comptime std.meta.fieldNames(E);
    if (index >= names.len) return null;
    return names[index].ptr;
}

pub fn strategyFromIndex(index: u32) ?selector.Strategy {
    if (index >= std.meta.fieldNames(selector.Strategy).len) return null;
    return @fromBackingInt(@intCast(index));
}

const length_block_bytes = 16;

/// `std.mem.len` of a NUL-terminated text, a 16-byte block at a time: in Zig 0.17 `std.mem.len`
/// is a byte loop, about 3 instructions a byte (a third of routing a short prompt). Blocks are
/// read at 16-byte-aligned addresses, which never straddle a page, so the bytes read before
/// the text and after its NUL are mapped memory: the technique of every libc's strlen.
pub fn textLength(text: [*:0]const u8) usize {
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

test "names cover every enumeration and stop at the end" {
    try std.testing.expectEqualStrings("groq", std.mem.span(th_provider_name(@backingInt(ProviderId.groq)).?));
    try std.testing.expect(th_provider_name(ProviderId.count) == null);
    try std.testing.expectEqualStrings("und", std.mem.span(th_language_code(0).?));
    try std.testing.expectEqualStrings("MOONSHOT_API_KEY", std.mem.span(th_provider_key_variable(@backingInt(ProviderId.kimi), 1).?));
    try std.testing.expect(th_provider_key_variable(@backingInt(ProviderId.local), 0) == null);
    try std.testing.expect(th_strategy_name(th_strategy_count()) == null);
}
