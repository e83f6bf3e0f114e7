//! The provider catalogue: what each provider is (model, context window, quality, speed, price,
//! strengths) as a bounded, fixed-size table. Defaults come from the product notes; every field
//! can be overridden at run time (from Python through the C ABI, or from Zig directly).
const std = @import("std");
const assert = std.debug.assert;

/// The providers we ship an adapter for. The numeric value is the index into every per-provider
/// table and is part of the C ABI: append only, never reorder.
pub const ProviderId = enum(u8) {
    openai = 0,
    anthropic = 1,
    google = 2,
    groq = 3,
    zhipu = 4,
    deepseek = 5,
    kimi = 6,
    nvidia = 7,
    cohere = 8,
    mistral = 9,
    local = 10,
    /// Any OpenAI-compatible endpoint (`CUSTOM_BASE_URL`): vLLM, LiteLLM, a company gateway.
    custom = 11,

    pub const count = @typeInfo(ProviderId).@"enum".field_names.len;

    pub fn name(id: ProviderId) []const u8 {
        return @tagName(id);
    }

    pub fn fromName(text: []const u8) ?ProviderId {
        return std.meta.stringToEnum(ProviderId, text);
    }

    pub fn index(id: ProviderId) usize {
        return @backingInt(id);
    }
};

/// Upper bound on providers in one table. Bounded so that per-provider state is an array.
pub const providers_max = 16;

comptime {
    assert(ProviderId.count <= providers_max);
    assert(providers_max <= std.math.maxInt(u8));
}

pub const model_name_bytes_max = 95;

/// Quality tier: higher is better. The selector's quality rule prefers the highest tier.
pub const QualityTier = u8;

pub const Strengths = packed struct(u8) {
    cjk: bool = false,
    long_context: bool = false,
    quality: bool = false,
    speed: bool = false,
    code: bool = false,
    _padding: u3 = 0,
};

pub const Provider = struct {
    id: ProviderId,
    model_buffer: [model_name_bytes_max]u8 = @splat(0),
    model_len: u8 = 0,
    context_window_tokens: u32,
    quality_tier: QualityTier,
    speed_tokens_per_s: f32,
    price_input_usd_per_mtok: f64,
    price_output_usd_per_mtok: f64,
    strengths: Strengths = .{},
    /// A local provider needs no key and no network; it is the last resort in every chain.
    local: bool = false,
    /// Lower runs first under the `priority` strategy.
    priority: u8,

    pub fn model(provider: *const Provider) []const u8 {
        assert(provider.model_len <= model_name_bytes_max);
        return provider.model_buffer[0..provider.model_len];
    }

    pub const SetModelError = error{ModelNameTooLong};

    pub fn setModel(provider: *Provider, model_name: []const u8) SetModelError!void {
        if (model_name.len > model_name_bytes_max) return error.ModelNameTooLong;
        @memset(&provider.model_buffer, 0);
        @memcpy(provider.model_buffer[0..model_name.len], model_name);
        provider.model_len = @intCast(model_name.len);
    }

    /// Cost in USD of one call with these token counts, at this provider's prices.
    pub fn costUsd(provider: *const Provider, tokens_input: u64, tokens_output: u64) f64 {
        const input: f64 = @floatFromInt(tokens_input);
        const output: f64 = @floatFromInt(tokens_output);
        return (input * provider.price_input_usd_per_mtok + output * provider.price_output_usd_per_mtok) / 1_000_000.0;
    }
};

fn entry(
    id: ProviderId,
    model_name: []const u8,
    context_window_tokens: u32,
    quality_tier: QualityTier,
    speed_tokens_per_s: f32,
    price_input_usd_per_mtok: f64,
    price_output_usd_per_mtok: f64,
    strengths: Strengths,
    priority: u8,
) Provider {
    var provider: Provider = .{
        .id = id,
        .context_window_tokens = context_window_tokens,
        .quality_tier = quality_tier,
        .speed_tokens_per_s = speed_tokens_per_s,
        .price_input_usd_per_mtok = price_input_usd_per_mtok,
        .price_output_usd_per_mtok = price_output_usd_per_mtok,
        .strengths = strengths,
        .local = id == .local,
        .priority = priority,
    };
    provider.setModel(model_name) catch unreachable;
    return provider;
}

/// The product notes' defaults. Speeds are measured generation rates in tokens per second;
/// prices are list prices per million tokens (input, output).
pub const defaults: [ProviderId.count]Provider = .{
    entry(.openai, "gpt-4o", 128_000, 4, 90, 2.50, 10.00, .{ .code = true }, 4),
    entry(.anthropic, "claude-sonnet-4-20250514", 200_000, 5, 75, 3.00, 15.00, .{ .quality = true, .long_context = true, .code = true }, 3),
    entry(.google, "gemini-2.5-flash", 1_000_000, 4, 160, 0.30, 2.50, .{ .long_context = true, .speed = true }, 5),
    entry(.groq, "llama-3.3-70b-versatile", 128_000, 3, 227, 0.59, 0.79, .{ .speed = true }, 1),
    entry(.zhipu, "glm-4-plus", 200_000, 4, 69.5, 1.00, 1.00, .{ .cjk = true, .long_context = true }, 2),
    entry(.deepseek, "deepseek-chat", 128_000, 4, 60, 0.27, 1.10, .{ .cjk = true, .code = true }, 6),
    entry(.kimi, "kimi-k2-turbo-preview", 256_000, 4, 80, 0.60, 2.50, .{ .cjk = true, .long_context = true }, 7),
    entry(.nvidia, "meta/llama-3.1-70b-instruct", 128_000, 3, 50, 0.35, 0.40, .{}, 8),
    entry(.cohere, "command-r-plus", 128_000, 3, 50, 3.00, 15.00, .{}, 9),
    entry(.mistral, "mistral-large-latest", 128_000, 4, 60, 2.00, 6.00, .{ .code = true }, 10),
    // The window the embedded model is run with (llama.cpp's n_ctx follows it), not the 8,192
    // tokens SmolLM2 was trained on: its KV cache costs 23 KB per token, 94 MB at 4,096.
    entry(.local, "SmolLM2-135M-Instruct", 4_096, 1, 30, 0, 0, .{}, 255),
    // Unknown until configured: a middling entry that no rule prefers over a named provider.
    entry(.custom, "default", 128_000, 3, 50, 0, 0, .{}, 11),
};

comptime {
    for (defaults, 0..) |provider, position| {
        assert(@backingInt(provider.id) == position);
        assert(provider.context_window_tokens > 0);
        assert(provider.speed_tokens_per_s > 0);
    }
}

/// The table the selector reads. Fixed-size: no allocation, copyable.
pub const Catalogue = struct {
    providers: [ProviderId.count]Provider = defaults,

    pub fn get(catalogue: *const Catalogue, id: ProviderId) *const Provider {
        return &catalogue.providers[id.index()];
    }

    pub fn getMutable(catalogue: *Catalogue, id: ProviderId) *Provider {
        return &catalogue.providers[id.index()];
    }

    /// The provider with the highest generation speed among `candidates`; used for "fastest".
    pub fn fastest(catalogue: *const Catalogue, candidates: []const ProviderId) ?ProviderId {
        var best: ?ProviderId = null;
        for (candidates) |id| {
            if (best == null or catalogue.get(id).speed_tokens_per_s > catalogue.get(best.?).speed_tokens_per_s) best = id;
        }
        return best;
    }
};

test "defaults follow the product notes" {
    const catalogue: Catalogue = .{};
    try std.testing.expectEqual(@as(f32, 227), catalogue.get(.groq).speed_tokens_per_s);
    try std.testing.expectEqual(@as(f64, 0.59), catalogue.get(.groq).price_input_usd_per_mtok);
    try std.testing.expect(catalogue.get(.zhipu).strengths.cjk);
    try std.testing.expectEqual(@as(u32, 200_000), catalogue.get(.zhipu).context_window_tokens);
    try std.testing.expectEqual(@as(u32, 1_000_000), catalogue.get(.google).context_window_tokens);
    try std.testing.expectEqual(@as(u32, 256_000), catalogue.get(.kimi).context_window_tokens);
    try std.testing.expect(catalogue.get(.local).local);
    try std.testing.expectEqual(@as(f64, 0), catalogue.get(.local).costUsd(1000, 1000));
    try std.testing.expectEqualStrings("claude-sonnet-4-20250514", catalogue.get(.anthropic).model());
}

test "the fastest provider by default is groq" {
    const catalogue: Catalogue = .{};
    const all = std.meta.tags(ProviderId);
    try std.testing.expectEqual(ProviderId.groq, catalogue.fastest(all).?);
}

test "model override is bounded" {
    var catalogue: Catalogue = .{};
    try catalogue.getMutable(.groq).setModel("llama-3.1-8b-instant");
    try std.testing.expectEqualStrings("llama-3.1-8b-instant", catalogue.get(.groq).model());
    const too_long: [model_name_bytes_max + 1]u8 = @splat('x');
    try std.testing.expectError(error.ModelNameTooLong, catalogue.getMutable(.groq).setModel(&too_long));
    try std.testing.expectEqualStrings("llama-3.1-8b-instant", catalogue.get(.groq).model());
}

test "cost in USD" {
    const catalogue: Catalogue = .{};
    // 1M input tokens and 1M output tokens of Anthropic cost $3 + $15.
    try std.testing.expectApproxEqAbs(@as(f64, 18.0), catalogue.get(.anthropic).costUsd(1_000_000, 1_000_000), 1e-9);
}

/// Where each provider's key and model override come from. The Python package reads these
/// names through the C ABI so the list exists once. The first key variable that is set wins.
pub const Environment = struct {
    key_variables: []const []const u8,
    model_variable: []const u8,
    base_url_variable: []const u8,
};

pub const environment: [ProviderId.count]Environment = .{
    .{ .key_variables = &.{"OPENAI_API_KEY"}, .model_variable = "OPENAI_MODEL", .base_url_variable = "OPENAI_BASE_URL" },
    .{ .key_variables = &.{"ANTHROPIC_API_KEY"}, .model_variable = "ANTHROPIC_MODEL", .base_url_variable = "ANTHROPIC_BASE_URL" },
    .{ .key_variables = &.{ "GOOGLE_API_KEY", "GEMINI_API_KEY" }, .model_variable = "GOOGLE_MODEL", .base_url_variable = "GOOGLE_BASE_URL" },
    .{ .key_variables = &.{"GROQ_API_KEY"}, .model_variable = "GROQ_MODEL", .base_url_variable = "GROQ_BASE_URL" },
    .{ .key_variables = &.{"ZHIPU_API_KEY"}, .model_variable = "ZHIPU_MODEL", .base_url_variable = "ZHIPU_BASE_URL" },
    .{ .key_variables = &.{"DEEPSEEK_API_KEY"}, .model_variable = "DEEPSEEK_MODEL", .base_url_variable = "DEEPSEEK_BASE_URL" },
    .{ .key_variables = &.{ "KIMI_K2_API_KEY", "MOONSHOT_API_KEY" }, .model_variable = "KIMI_MODEL", .base_url_variable = "KIMI_BASE_URL" },
    .{ .key_variables = &.{"NVIDIA_API_KEY"}, .model_variable = "NVIDIA_MODEL", .base_url_variable = "NVIDIA_BASE_URL" },
    .{ .key_variables = &.{"COHERE_API_KEY"}, .model_variable = "COHERE_MODEL", .base_url_variable = "COHERE_BASE_URL" },
    .{ .key_variables = &.{"MISTRAL_API_KEY"}, .model_variable = "MISTRAL_MODEL", .base_url_variable = "MISTRAL_BASE_URL" },
    // The local model needs no key: it is available whenever its runtime is.
    .{ .key_variables = &.{}, .model_variable = "LOCAL_MODEL", .base_url_variable = "LOCAL_LLM_BASE_URL" },
    // Available when its base URL is set; the key is optional (many self-hosted servers take none).
    .{ .key_variables = &.{"CUSTOM_API_KEY"}, .model_variable = "CUSTOM_MODEL", .base_url_variable = "CUSTOM_BASE_URL" },
};

pub const key_mask_prefix_bytes_max = 8;
pub const key_mask_suffix = "***";
pub const key_mask_bytes_max = key_mask_prefix_bytes_max + key_mask_suffix.len;

/// `key[:8]***`, the only form in which a key may ever be shown. Short keys show at most half
/// of their bytes so that a short key is never printed nearly whole.
pub fn maskKey(key: []const u8, buffer: *[key_mask_bytes_max]u8) []const u8 {
    const prefix_bytes = @min(key_mask_prefix_bytes_max, key.len / 2);
    @memcpy(buffer[0..prefix_bytes], key[0..prefix_bytes]);
    @memcpy(buffer[prefix_bytes..][0..key_mask_suffix.len], key_mask_suffix);
    return buffer[0 .. prefix_bytes + key_mask_suffix.len];
}

test "keys are masked to at most eight bytes" {
    var buffer: [key_mask_bytes_max]u8 = undefined;
    try std.testing.expectEqualStrings("gsk_abcd***", maskKey("gsk_abcdefghijklmnopqrstuvwxyz", &buffer));
    try std.testing.expectEqualStrings("ab***", maskKey("abcde", &buffer));
    try std.testing.expectEqualStrings("***", maskKey("", &buffer));
    try std.testing.expectEqualStrings("***", maskKey("x", &buffer));
}

test "every remote provider has a key variable" {
    for (environment, 0..) |variables, position| {
        const id: ProviderId = @fromBackingInt(@intCast(position));
        try std.testing.expectEqual(id != .local, variables.key_variables.len > 0);
    }
}
