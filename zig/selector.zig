//! The ordered provider chain for one request: which providers to try, in which order, and why.
//! A pure function of the catalogue, the health board, availability and the request's features;
//! no allocation, at most `providers_max` providers.
//!
//! A forced provider is the whole chain. Otherwise only eligible providers appear: available
//! (a key is configured), eligible on the board (closed, or half-open with the probe free) and
//! with a context window that holds the request. The first rule that matches names the reason:
//!
//! 1. CJK language: zhipu heads the chain.
//! 2. More tokens than the long-context threshold: the chain is ordered by context window,
//!    largest first; the strategy only breaks ties.
//! 3. Quality requested: anthropic heads the chain.
//! 4. A preferred provider (DEFAULT_LLM_PROVIDER): it heads the chain.
//! 5. Otherwise: no head, fastest first under the `rule` strategy.
//!
//! The reason names the rule that fired even when its head was not eligible. The providers
//! after the head are ordered by the strategy (`selector_order.zig`; ties by ProviderId, so the
//! result is deterministic). Local providers always come last, after every remote one: they are
//! the offline last resort, never a first choice (a caller who wants one first forces it).
const std = @import("std");
const assert = std.debug.assert;

const catalogue = @import("catalogue.zig");
const health = @import("health.zig");
const language = @import("language.zig");
const selector_order = @import("selector_order.zig");

const Catalogue = catalogue.Catalogue;
const ProviderId = catalogue.ProviderId;
const Board = health.Board;
const Language = language.Language;

pub const Ranks = selector_order.Ranks;
pub const latency_proxy_tokens = selector_order.latency_proxy_tokens;

const orderGroup = selector_order.orderGroup;
const orderStatic = selector_order.orderStatic;
const orderByWindow = selector_order.orderByWindow;

/// How the providers after the rule's head are ordered. Part of the C ABI: append only.
pub const Strategy = enum(u8) {
    /// The rule's own order: speed descending; quality tier then speed for the quality rule.
    rule = 0,
    /// Id order, rotated by `Context.rotation`, so that successive requests spread the load.
    round_robin,
    /// Success rate descending, then expected latency ascending, then speed descending.
    best_performance,
    /// A Fisher–Yates shuffle with `Context.random`; the rule's order when there is none.
    random,
    /// `Provider.priority` ascending.
    priority,
    /// Expected latency ascending.
    lowest_latency,
    /// Input plus output price ascending.
    lowest_cost,

    pub fn fromName(text: []const u8) ?Strategy {
        return std.meta.stringToEnum(Strategy, text);
    }
};

/// Part of the C ABI: append only.
pub const Reason = enum(u8) {
    forced,
    cjk,
    long_context,
    quality,
    default_provider,
    default_fastest,
    none_eligible,
};

pub const Features = struct {
    /// The prompt is Chinese, Japanese or Korean (`language.isCjkText`).
    cjk: bool,
    tokens_estimated: u64,
    quality: bool = false,
    force_provider: ?ProviderId = null,
    strategy: Strategy = .rule,
    /// DEFAULT_LLM_PROVIDER.
    preferred_provider: ?ProviderId = null,
};

pub const Route = struct {
    /// Only the first `len` entries are meaningful.
    providers: [catalogue.providers_max]ProviderId,
    len: u8,
    reason: Reason,

    pub fn slice(route: *const Route) []const ProviderId {
        assert(route.len <= catalogue.providers_max);
        return route.providers[0..route.len];
    }
};

pub const Context = struct {
    catalogue: *const Catalogue,
    board: *const Board,
    /// Whether each provider can be called at all (for example, its key is configured).
    available: [ProviderId.count]bool,
    now_ms: u64,
    long_context_threshold_tokens: u64 = 128_000,
    /// Advanced by the caller once per request for the round_robin strategy.
    rotation: u64 = 0,
    random: ?std.Random = null,
    /// The catalogue's providers already sorted by each catalogue-only order (`Ranks.compute`
    /// of this `catalogue`). With them, the orders that depend on nothing else (speed, quality,
    /// priority, cost) are filtered instead of sorted on every request; the chain is the same.
    ranks: ?*const Ranks = null,
};

pub fn select(context: Context, features: Features) Route {
    var route: Route = .{
        .providers = @splat(ProviderId.openai),
        .len = 0,
        .reason = .none_eligible,
    };
    if (features.force_provider) |id| {
        route.providers[0] = id;
        route.len = 1;
        route.reason = .forced;
        return route;
    }

    const rule = ruleFor(context, features);
    route.reason = rule.reason;
    const head: ?ProviderId = if (rule.head) |id|
        if (isEligible(context, features, id) and !context.catalogue.get(id).local) id else null
    else
        null;
    if (head) |id| append(&route, id);

    // Remote and local providers are ordered separately, so that local ones come last and a
    // rotation or a shuffle spreads only over the remote ones.
    var remote: Group = .{};
    var local: Group = .{};
    const ranked: ?[]const ProviderId = ranked: {
        const ranks = context.ranks orelse break :ranked null;
        // As bytes: std.mem.eql compares bools one by one, bytes a word at a time.
        if (!std.mem.eql(u8, std.mem.asBytes(&ranks.available), std.mem.asBytes(&context.available))) break :ranked null;
        const order = orderStatic(features.strategy, rule.reason) orelse break :ranked null;
        break :ranked ranks.of(order);
    };
    // Filtering a sorted list keeps it sorted: with ranks, each group arrives in order.
    for (ranked orelse std.enums.values(ProviderId)) |id| {
        if (head == id) continue;
        if (!isEligible(context, features, id)) continue;
        if (context.catalogue.get(id).local) local.append(id) else remote.append(id);
    }
    if (ranked == null) {
        orderGroup(context, features.strategy, rule.reason, remote.slice());
        orderGroup(context, features.strategy, rule.reason, local.slice());
    }
    orderByWindow(context, rule.reason, remote.slice());
    orderByWindow(context, rule.reason, local.slice());
    for (remote.slice()) |id| append(&route, id);
    for (local.slice()) |id| append(&route, id);

    if (route.len == 0) route.reason = .none_eligible;
    // A loop over the chain: ReleaseFast kept it although its asserts compile to nothing.
    if (std.debug.runtime_safety) assertRoute(context, features, &route);
    return route;
}

const Rule = struct {
    reason: Reason,
    head: ?ProviderId,
};

fn ruleFor(context: Context, features: Features) Rule {
    if (features.cjk) return .{ .reason = .cjk, .head = .zhipu };
    if (features.tokens_estimated > context.long_context_threshold_tokens) {
        return .{ .reason = .long_context, .head = null };
    }
    if (features.quality) return .{ .reason = .quality, .head = .anthropic };
    if (features.preferred_provider) |id| return .{ .reason = .default_provider, .head = id };
    return .{ .reason = .default_fastest, .head = null };
}

fn isEligible(context: Context, features: Features, id: ProviderId) bool {
    if (!context.available[id.index()]) return false;
    if (!context.board.isEligible(id, context.now_ms)) return false;
    return context.catalogue.get(id).context_window_tokens >= features.tokens_estimated;
}

const Group = struct {
    providers: [ProviderId.count]ProviderId = undefined,
    len: usize = 0,

    fn append(group: *Group, id: ProviderId) void {
        assert(group.len < ProviderId.count);
        group.providers[group.len] = id;
        group.len += 1;
    }

    fn slice(group: *Group) []ProviderId {
        return group.providers[0..group.len];
    }
};

fn append(route: *Route, id: ProviderId) void {
    assert(route.len < ProviderId.count);
    route.providers[route.len] = id;
    route.len += 1;
}

fn assertRoute(context: Context, features: Features, route: *const Route) void {
    assert(route.len <= ProviderId.count);
    assert((route.len == 0) == (route.reason == .none_eligible));
    var seen: [ProviderId.count]bool = @splat(false);
    var local_seen = false;
    for (route.slice()) |id| {
        assert(!seen[id.index()]);
        seen[id.index()] = true;
        assert(isEligible(context, features, id));
        const local = context.catalogue.get(id).local;
        // No remote provider after a local one.
        if (local_seen) assert(local);
        local_seen = local_seen or local;
    }
}

const testing = std.testing;

/// Every named provider available; `custom` is not, as it is not until a URL configures it.
fn contextForTest(table: *const Catalogue, board: *const Board) Context {
    var available: [ProviderId.count]bool = @splat(true);
    available[ProviderId.custom.index()] = false;
    return .{ .catalogue = table, .board = board, .available = available, .now_ms = 0 };
}

const providers_available_in_tests = ProviderId.count - 1;

fn expectRoute(expected: []const ProviderId, reason: Reason, route: Route) !void {
    try testing.expectEqual(reason, route.reason);
    try testing.expectEqualSlices(ProviderId, expected, route.slice());
}

const english: Features = .{ .cjk = false, .tokens_estimated = 1_000 };

test "strategy names" {
    try testing.expectEqual(Strategy.round_robin, Strategy.fromName("round_robin").?);
    try testing.expectEqual(Strategy.lowest_cost, Strategy.fromName("lowest_cost").?);
    try testing.expectEqual(@as(?Strategy, null), Strategy.fromName("fastest"));
}

test "default: fastest first, groq heads, local last" {
    const table: Catalogue = .{};
    const board = Board.init(.{});
    try expectRoute(&.{ .groq, .google, .openai, .kimi, .anthropic, .zhipu, .deepseek, .mistral, .nvidia, .cohere, .local }, .default_fastest, select(contextForTest(&table, &board), english));
}

test "cjk: zhipu heads, the rest by speed" {
    const table: Catalogue = .{};
    var board = Board.init(.{});
    var features = english;
    features.cjk = true;
    try expectRoute(&.{ .zhipu, .groq, .google, .openai, .kimi, .anthropic, .deepseek, .mistral, .nvidia, .cohere, .local }, .cjk, select(contextForTest(&table, &board), features));

    // The reason stays when zhipu cannot be used; the chain is the rest.
    board.recordFailure(.zhipu, 0, .{ .kind = .credential });
    const route = select(contextForTest(&table, &board), features);
    try testing.expectEqual(Reason.cjk, route.reason);
    try testing.expectEqual(ProviderId.groq, route.slice()[0]);
    try testing.expectEqual(@as(u8, 10), route.len);
}

test "long context: only windows that fit, largest first, local excluded" {
    const table: Catalogue = .{};
    const board = Board.init(.{});
    var features = english;
    features.tokens_estimated = 150_000;
    // anthropic and zhipu tie at 200K; the rule order (speed) puts anthropic first.
    try expectRoute(&.{ .google, .kimi, .anthropic, .zhipu }, .long_context, select(contextForTest(&table, &board), features));

    features.tokens_estimated = 2_000_000;
    try expectRoute(&.{}, .none_eligible, select(contextForTest(&table, &board), features));

    // Just above the threshold, the 128K windows are out but the ties among 200K follow the
    // strategy: priority puts zhipu (2) before anthropic (3).
    features.tokens_estimated = 128_001;
    features.strategy = .priority;
    try expectRoute(&.{ .google, .kimi, .zhipu, .anthropic }, .long_context, select(contextForTest(&table, &board), features));
}

test "quality: anthropic heads, then tier and speed" {
    const table: Catalogue = .{};
    const board = Board.init(.{});
    var features = english;
    features.quality = true;
    try expectRoute(&.{ .anthropic, .google, .openai, .kimi, .zhipu, .deepseek, .mistral, .groq, .nvidia, .cohere, .local }, .quality, select(contextForTest(&table, &board), features));
}

test "preferred provider heads; force is alone" {
    const table: Catalogue = .{};
    var board = Board.init(.{});
    var features = english;
    features.preferred_provider = .kimi;
    try expectRoute(&.{ .kimi, .groq, .google, .openai, .anthropic, .zhipu, .deepseek, .mistral, .nvidia, .cohere, .local }, .default_provider, select(contextForTest(&table, &board), features));

    // A local preferred provider is still last: local is never a first choice.
    features.preferred_provider = .local;
    var route = select(contextForTest(&table, &board), features);
    try testing.expectEqual(Reason.default_provider, route.reason);
    try testing.expectEqual(ProviderId.groq, route.slice()[0]);
    try testing.expectEqual(ProviderId.local, route.slice()[route.len - 1]);

    // Forced: alone, whatever its state, availability or window.
    board.recordFailure(.cohere, 0, .{ .kind = .credential });
    var context = contextForTest(&table, &board);
    context.available = @splat(false);
    features.force_provider = .cohere;
    features.tokens_estimated = 10_000_000;
    route = select(context, features);
    try expectRoute(&.{.cohere}, .forced, route);
}

test "unavailable, open and probing providers are left out" {
    const table: Catalogue = .{};
    var board = Board.init(.{});
    var context = contextForTest(&table, &board);
    context.available[ProviderId.openai.index()] = false;
    for (0..3) |_| board.recordFailure(.groq, 0, .{ .kind = .transient });
    try expectRoute(&.{ .google, .kimi, .anthropic, .zhipu, .deepseek, .mistral, .nvidia, .cohere, .local }, .default_fastest, select(context, english));

    // Half-open with the probe taken: out until the lease expires.
    context.now_ms = 60_000;
    try testing.expectEqual(ProviderId.groq, select(context, english).slice()[0]);
    try testing.expectEqual(health.Admission.allowed_probe, board.admit(.groq, 60_000));
    try testing.expectEqual(ProviderId.google, select(context, english).slice()[0]);
    context.now_ms = 180_000;
    try testing.expectEqual(ProviderId.groq, select(context, english).slice()[0]);

    context.available = @splat(false);
    try expectRoute(&.{}, .none_eligible, select(context, english));
}

test "strategies order the rest" {
    const table: Catalogue = .{};
    var board = Board.init(.{});
    var context = contextForTest(&table, &board);
    var features = english;

    features.strategy = .priority;
    try expectRoute(&.{ .groq, .zhipu, .anthropic, .openai, .google, .deepseek, .kimi, .nvidia, .cohere, .mistral, .local }, .default_fastest, select(context, features));

    features.strategy = .lowest_cost;
    try expectRoute(&.{ .nvidia, .deepseek, .groq, .zhipu, .google, .kimi, .mistral, .openai, .anthropic, .cohere, .local }, .default_fastest, select(context, features));

    // Without measurements, expected latency follows speed.
    features.strategy = .lowest_latency;
    try expectRoute(&.{ .groq, .google, .openai, .kimi, .anthropic, .zhipu, .deepseek, .mistral, .nvidia, .cohere, .local }, .default_fastest, select(context, features));
    board.recordSuccess(.nvidia, 0, .{ .latency_ms = 100 });
    try testing.expectEqual(ProviderId.nvidia, select(context, features).slice()[0]);

    // A failing provider sinks; a fast measured one rises above untried ones.
    features.strategy = .best_performance;
    board.recordFailure(.groq, 0, .{ .kind = .transient });
    board.recordSuccess(.mistral, 0, .{ .latency_ms = 1_000 });
    // mistral's measured 1000 ms beats openai's 1111 ms estimate (100 tokens at 90 tokens/s).
    try expectRoute(&.{ .nvidia, .google, .mistral, .openai, .kimi, .anthropic, .zhipu, .deepseek, .cohere, .groq, .local }, .default_fastest, select(context, features));

    features.strategy = .round_robin;
    context.rotation = 3;
    try expectRoute(&.{ .groq, .zhipu, .deepseek, .kimi, .nvidia, .cohere, .mistral, .openai, .anthropic, .google, .local }, .default_fastest, select(context, features));
    context.rotation = 13;
    try expectRoute(&.{ .groq, .zhipu, .deepseek, .kimi, .nvidia, .cohere, .mistral, .openai, .anthropic, .google, .local }, .default_fastest, select(context, features));

    // With a head, the strategy orders only what follows it.
    features.quality = true;
    context.rotation = 1;
    try expectRoute(&.{ .anthropic, .google, .groq, .zhipu, .deepseek, .kimi, .nvidia, .cohere, .mistral, .openai, .local }, .quality, select(context, features));
}

test "random: deterministic for a seed, a permutation, local last, rule order without one" {
    const table: Catalogue = .{};
    const board = Board.init(.{});
    var features = english;
    features.strategy = .random;
    var context = contextForTest(&table, &board);
    try expectRoute(&.{ .groq, .google, .openai, .kimi, .anthropic, .zhipu, .deepseek, .mistral, .nvidia, .cohere, .local }, .default_fastest, select(context, features));

    var prng_first = std.Random.DefaultPrng.init(42);
    var prng_second = std.Random.DefaultPrng.init(42);
    context.random = prng_first.random();
    const first = select(context, features);
    context.random = prng_second.random();
    const second = select(context, features);
    try testing.expectEqualSlices(ProviderId, first.slice(), second.slice());
    try testing.expectEqual(@as(u8, providers_available_in_tests), first.len);
    try testing.expectEqual(ProviderId.local, first.slice()[first.len - 1]);

    // Over a few seeds, more than one provider comes first.
    var heads_seen: [ProviderId.count]bool = @splat(false);
    for (0..32) |seed| {
        var prng = std.Random.DefaultPrng.init(seed);
        context.random = prng.random();
        heads_seen[select(context, features).slice()[0].index()] = true;
    }
    var heads_distinct: usize = 0;
    for (heads_seen) |seen| heads_distinct += @intFromBool(seen);
    try testing.expect(heads_distinct > 1);
    try testing.expect(!heads_seen[ProviderId.local.index()]);
}

test "local is last in every chain" {
    const table: Catalogue = .{};
    var board = Board.init(.{});
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    var context = contextForTest(&table, &board);
    context.random = random;
    // A local provider that is the cheapest, the fastest and the first by priority.
    var table_local_first: Catalogue = .{};
    table_local_first.getMutable(.local).speed_tokens_per_s = 10_000;
    table_local_first.getMutable(.local).priority = 0;
    board.recordSuccess(.local, 0, .{ .latency_ms = 1 });
    const tables = [_]*const Catalogue{ &table, &table_local_first };
    for (tables) |table_used| {
        context.catalogue = table_used;
        for (std.enums.values(Strategy)) |strategy| {
            for ([_]bool{ false, true }) |cjk| {
                for ([_]bool{ false, true }) |quality| {
                    const features: Features = .{ .cjk = cjk, .tokens_estimated = 100, .quality = quality, .strategy = strategy, .preferred_provider = .local };
                    const route = select(context, features);
                    try testing.expectEqual(@as(u8, providers_available_in_tests), route.len);
                    try testing.expectEqual(ProviderId.local, route.slice()[route.len - 1]);
                }
            }
        }
    }
}
