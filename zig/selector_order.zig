//! How the selector orders the providers after a rule's head: each strategy's order, the
//! comparisons behind it, the largest window first for long context, and `Ranks`, the orders that
//! the catalogue alone decides, computed ahead so that `select` filters instead of sorting.
const std = @import("std");
const assert = std.debug.assert;

const catalogue = @import("catalogue.zig");
const health = @import("health.zig");
const selector = @import("selector.zig");

const Catalogue = catalogue.Catalogue;
const ProviderId = catalogue.ProviderId;
const Provider = catalogue.Provider;
const Board = health.Board;
const Context = selector.Context;
const Features = selector.Features;
const Reason = selector.Reason;
const Strategy = selector.Strategy;
const select = selector.select;

/// The available providers in each order that only the catalogue decides, ties by id: what
/// `sortBy` would produce on them. A node recomputes it whenever its catalogue or availability
/// changes; selecting with it then costs a pass over the available providers instead of a sort
/// over all of them (routing a short prompt: 1,231 -> 709 instructions with the script pass's
/// own gains, callgrind). Ranks made for another availability are not used (`select` sorts).
pub const Ranks = struct {
    by_order: [orders_static.len][ProviderId.count]ProviderId,
    /// The providers in each row: those available when it was computed.
    len: u8,
    available: [ProviderId.count]bool,

    const orders_static = [_]Order{ .speed, .quality, .priority, .cost };

    pub fn compute(table: *const Catalogue, available: [ProviderId.count]bool) Ranks {
        var ranks: Ranks = .{ .by_order = undefined, .len = 0, .available = available };
        var providers: [ProviderId.count]ProviderId = undefined;
        for (std.enums.values(ProviderId)) |id| {
            if (!available[id.index()]) continue;
            providers[ranks.len] = id;
            ranks.len += 1;
        }
        for (orders_static, 0..) |order, position| {
            const row = ranks.by_order[position][0..ranks.len];
            @memcpy(row, providers[0..ranks.len]);
            // The ranking reads only the catalogue for these orders: no board is needed.
            const ranking: Ranking = .{ .context = .{ .catalogue = table, .board = undefined, .available = available, .now_ms = 0 }, .order = order };
            std.sort.insertion(ProviderId, row, ranking, Ranking.lessThan);
        }
        return ranks;
    }

    pub fn of(ranks: *const Ranks, order: Order) ?[]const ProviderId {
        inline for (orders_static, 0..) |order_static, position| {
            if (order == order_static) return ranks.by_order[position][0..ranks.len];
        }
        return null;
    }
};

/// A provider without a measured latency is ranked as if it took this many tokens' worth of
/// generation time at its catalogue speed: 100 tokens at 227 tokens/s is about 440 ms. The
/// value only has to put untried providers in speed order against measured ones.
pub const latency_proxy_tokens: f64 = 100;

/// Orders `group`, which arrives in id order, by the strategy.
pub fn orderGroup(context: Context, strategy: Strategy, reason: Reason, group: []ProviderId) void {
    assert(group.len <= ProviderId.count);
    const rule_order: Order = if (reason == .quality) .quality else .speed;
    switch (strategy) {
        .rule => sortBy(context, rule_order, group),
        .round_robin => if (group.len > 0) {
            std.mem.rotate(ProviderId, group, @intCast(context.rotation % group.len));
        },
        .best_performance => sortBy(context, .performance, group),
        .random => if (context.random) |random| {
            // A fixed index type keeps the sequence the same on 32- and 64-bit targets.
            random.shuffleWithIndex(ProviderId, group, u32);
        } else {
            sortBy(context, rule_order, group);
        },
        .priority => sortBy(context, .priority, group),
        .lowest_latency => sortBy(context, .latency, group),
        .lowest_cost => sortBy(context, .cost, group),
    }
}

/// The order `orderGroup` sorts by when it depends on the catalogue alone (see `Ranks`).
pub fn orderStatic(strategy: Strategy, reason: Reason) ?Order {
    return switch (strategy) {
        .rule => if (reason == .quality) .quality else .speed,
        .priority => .priority,
        .lowest_cost => .cost,
        .round_robin, .best_performance, .random, .lowest_latency => null,
    };
}

/// Long context puts the largest window first. Stable, so the strategy's order breaks ties
/// between equal windows.
pub fn orderByWindow(context: Context, reason: Reason, group: []ProviderId) void {
    if (reason == .long_context) {
        std.sort.insertion(ProviderId, group, context.catalogue, windowLarger);
    }
}

fn windowLarger(table: *const Catalogue, a: ProviderId, b: ProviderId) bool {
    return table.get(a).context_window_tokens > table.get(b).context_window_tokens;
}

const Order = enum { speed, quality, performance, priority, latency, cost };

const Ranking = struct {
    context: Context,
    order: Order,

    fn lessThan(ranking: Ranking, a: ProviderId, b: ProviderId) bool {
        const order = ranking.compare(a, b);
        if (order != .eq) return order == .lt;
        return a.index() < b.index();
    }

    /// .lt when `a` should come first.
    fn compare(ranking: Ranking, a: ProviderId, b: ProviderId) std.math.Order {
        const table = ranking.context.catalogue;
        const board = ranking.context.board;
        const provider_a = table.get(a);
        const provider_b = table.get(b);
        const speed = descending(provider_a.speed_tokens_per_s, provider_b.speed_tokens_per_s);
        return switch (ranking.order) {
            .speed => speed,
            .quality => then(descending(provider_a.quality_tier, provider_b.quality_tier), speed),
            .performance => then(
                descending(board.successRate(a), board.successRate(b)),
                then(latencyOrder(ranking.context, a, b), speed),
            ),
            .priority => std.math.order(provider_a.priority, provider_b.priority),
            .latency => latencyOrder(ranking.context, a, b),
            .cost => std.math.order(priceUsdPerMtok(provider_a), priceUsdPerMtok(provider_b)),
        };
    }
};

fn sortBy(context: Context, order: Order, group: []ProviderId) void {
    const ranking: Ranking = .{ .context = context, .order = order };
    std.sort.insertion(ProviderId, group, ranking, Ranking.lessThan);
}

fn descending(a: anytype, b: @TypeOf(a)) std.math.Order {
    return std.math.order(b, a);
}

fn then(first: std.math.Order, second: std.math.Order) std.math.Order {
    return if (first != .eq) first else second;
}

fn latencyOrder(context: Context, a: ProviderId, b: ProviderId) std.math.Order {
    return std.math.order(latencyExpectedMs(context, a), latencyExpectedMs(context, b));
}

/// The measured EWMA, or the catalogue speed's estimate (see `latency_proxy_tokens`).
fn latencyExpectedMs(context: Context, id: ProviderId) f64 {
    if (context.board.latencyMsEwma(id)) |latency_ms| {
        assert(latency_ms >= 0);
        return latency_ms;
    }
    const speed_tokens_per_s: f64 = context.catalogue.get(id).speed_tokens_per_s;
    // Also rules out NaN, which would make the order meaningless.
    assert(speed_tokens_per_s > 0);
    return latency_proxy_tokens * 1000.0 / speed_tokens_per_s;
}

fn priceUsdPerMtok(provider: *const Provider) f64 {
    const price = provider.price_input_usd_per_mtok + provider.price_output_usd_per_mtok;
    assert(price >= 0); // Also rules out NaN.
    return price;
}

const testing = std.testing;

test "ranks change nothing: the same chain as sorting, over random catalogues, boards and features" {
    var prng = std.Random.DefaultPrng.init(0x5e1ec7);
    const random = prng.random();
    for (0..2_000) |_| {
        var table: Catalogue = .{};
        // Few distinct values, so that ties (broken by id) are common.
        for (std.enums.values(ProviderId)) |id| {
            const provider = table.getMutable(id);
            provider.speed_tokens_per_s = @floatFromInt(random.intRangeAtMost(u8, 1, 4) * 50);
            provider.quality_tier = random.intRangeAtMost(u8, 1, 3);
            provider.priority = random.intRangeAtMost(u8, 0, 3);
            provider.price_input_usd_per_mtok = @floatFromInt(random.intRangeAtMost(u8, 0, 2));
            provider.context_window_tokens = random.intRangeAtMost(u32, 1, 3) * 100_000;
        }
        var board = Board.init(.{});
        for (std.enums.values(ProviderId)) |id| {
            switch (random.intRangeLessThan(u8, 0, 4)) {
                0 => board.recordFailure(id, 0, .{ .kind = .credential }),
                1 => board.recordSuccess(id, 0, .{ .latency_ms = random.intRangeAtMost(u32, 1, 3) * 100 }),
                else => {},
            }
        }
        var context: Context = .{ .catalogue = &table, .board = &board, .available = undefined, .now_ms = random.intRangeAtMost(u64, 0, 120_000) };
        for (&context.available) |*available| available.* = random.boolean();
        const features: Features = .{
            .cjk = random.boolean(),
            .tokens_estimated = random.intRangeAtMost(u64, 1, 3) * 80_000,
            .quality = random.boolean(),
            .strategy = random.enumValue(Strategy),
            .preferred_provider = if (random.boolean()) random.enumValue(ProviderId) else null,
        };
        const sorted = select(context, features);
        const ranks = Ranks.compute(&table, context.available);
        context.ranks = &ranks;
        const filtered = select(context, features);
        try testing.expectEqual(sorted.reason, filtered.reason);
        try testing.expectEqualSlices(ProviderId, sorted.slice(), filtered.slice());
        // Ranks of another availability are not used: the chain is still the sorted one.
        const available_before = context.available;
        context.available[random.uintLessThan(usize, ProviderId.count)] = random.boolean();
        const sorted_other = select(.{ .catalogue = &table, .board = &board, .available = context.available, .now_ms = context.now_ms }, features);
        try testing.expectEqualSlices(ProviderId, sorted_other.slice(), select(context, features).slice());
        context.available = available_before;
    }
}
