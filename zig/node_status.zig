//! The node's status document: `TrinityHybridNode.writeStatus` copies what it shows under the
//! node's lock into a `Status`, which is written as JSON outside it (formatting is the slow part).
const std = @import("std");

const catalogue_module = @import("catalogue.zig");
const health = @import("health.zig");
const node_module = @import("trinity_hybrid_node.zig");

const ProviderId = catalogue_module.ProviderId;
const Strategy = node_module.Strategy;
const TrinityHybridNode = node_module.TrinityHybridNode;

/// What the document shows of a node, copied under its lock.
pub const Status = struct {
    snapshots: [ProviderId.count]health.Snapshot,
    providers: [ProviderId.count]catalogue_module.Provider,
    available: [ProviderId.count]bool,
    masks: [ProviderId.count][catalogue_module.key_mask_bytes_max]u8,
    mask_lengths: [ProviderId.count]u8,
    preferred: ?ProviderId,
    strategy_default: Strategy,

    /// The document's shape is described at `TrinityHybridNode.writeStatus`.
    pub fn write(status: *const Status, writer: *std.Io.Writer, now_ms: u64) std.Io.Writer.Error!void {
        var json: std.json.Stringify = .{ .writer = writer, .options = .{} };
        var calls_total: u64 = 0;
        try json.beginObject();
        try json.objectField("providers");
        try json.beginObject();
        for (std.meta.tags(ProviderId)) |id| {
            const entry = &status.snapshots[id.index()];
            calls_total += entry.calls_total;
            if (!status.available[id.index()] and entry.calls_total == 0) continue;
            try json.objectField(id.name());
            try writeProviderStatus(&json, entry, &status.providers[id.index()], status.available[id.index()], status.masks[id.index()][0..status.mask_lengths[id.index()]], now_ms);
        }
        try json.endObject();
        try json.objectField("total_calls");
        try json.write(calls_total);
        try json.objectField("available_providers");
        try json.beginArray();
        for (std.meta.tags(ProviderId)) |id| {
            if (status.available[id.index()]) try json.write(id.name());
        }
        try json.endArray();
        try json.objectField("default_provider");
        try json.write(if (status.preferred) |id| id.name() else null);
        try json.objectField("strategy");
        try json.write(@tagName(status.strategy_default));
        try json.endObject();
    }
};

fn writeProviderStatus(
    json: *std.json.Stringify,
    entry: *const health.Snapshot,
    provider: *const catalogue_module.Provider,
    available: bool,
    key_mask: []const u8,
    now_ms: u64,
) std.Io.Writer.Error!void {
    var text_buffer: [32]u8 = undefined;
    try json.beginObject();
    try json.objectField("total_calls");
    try json.write(entry.calls_total);
    try json.objectField("successful_calls");
    try json.write(entry.calls_successful);
    try json.objectField("failed_calls");
    try json.write(entry.calls_failed);
    try json.objectField("success_rate");
    try json.write(std.fmt.bufPrint(&text_buffer, "{d:.1}%", .{entry.success_rate * 100}) catch unreachable);
    try json.objectField("avg_latency");
    try json.write(std.fmt.bufPrint(&text_buffer, "{d:.2}s", .{entry.latency_ms_average / 1000}) catch unreachable);
    try json.objectField("is_healthy");
    try json.write(entry.healthy);
    try json.objectField("consecutive_failures");
    try json.write(entry.failures_consecutive);
    try json.objectField("state");
    try json.write(@tagName(entry.state));
    try json.objectField("open_for_ms");
    try json.write(if (entry.state == .open) entry.open_until_ms -| now_ms else 0);
    try json.objectField("available");
    try json.write(available);
    try json.objectField("key");
    try json.write(if (key_mask.len > 0) key_mask else null);
    try json.objectField("model");
    try json.write(provider.model());
    try json.objectField("client_errors");
    try json.write(entry.calls_client_error);
    try json.objectField("last_failure");
    try json.write(if (entry.last_failure_kind) |kind| @tagName(kind) else null);
    try json.objectField("latency_ms_ewma");
    try json.write(entry.latency_ms_ewma);
    try json.objectField("latency_ms_p50");
    try json.write(entry.latency_ms_p50);
    try json.objectField("latency_ms_p95");
    try json.write(entry.latency_ms_p95);
    try json.objectField("latency_ms_p99");
    try json.write(entry.latency_ms_p99);
    try json.objectField("tokens_input");
    try json.write(entry.tokens_input);
    try json.objectField("tokens_output");
    try json.write(entry.tokens_output);
    try json.objectField("cost_usd");
    try json.write(entry.cost_usd);
    try json.endObject();
}

test "status shape and counters" {
    const node = try TrinityHybridNode.create(std.testing.allocator, std.testing.io, .{});
    defer node.destroy();
    node.setAvailable(.groq, "gsk_0123456789abcdef");
    _ = node.recordSuccess(.groq, 10, 2000, 100, 50);
    _ = node.recordSuccess(.groq, 20, 2680, 100, 50);
    node.recordFailure(.groq, 30, .{ .kind = .transient });
    var output: std.Io.Writer.Allocating = .init(std.testing.allocator);
    defer output.deinit();
    try node.writeStatus(&output.writer, 40);
    const parsed = try std.json.parseFromSlice(std.json.Value, std.testing.allocator, output.written(), .{});
    defer parsed.deinit();
    const groq = parsed.value.object.get("providers").?.object.get("groq").?.object;
    try std.testing.expectEqual(@as(i64, 3), groq.get("total_calls").?.integer);
    try std.testing.expectEqual(@as(i64, 2), groq.get("successful_calls").?.integer);
    try std.testing.expectEqualStrings("66.7%", groq.get("success_rate").?.string);
    try std.testing.expectEqualStrings("2.34s", groq.get("avg_latency").?.string);
    try std.testing.expectEqual(@as(i64, 1), groq.get("consecutive_failures").?.integer);
    try std.testing.expectEqual(@as(i64, 3), parsed.value.object.get("total_calls").?.integer);
}
