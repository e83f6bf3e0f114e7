//! Native timings for bench/bench_route.py and bench/bench_detect.py: `TrinityHybridNode.route`
//! and `detectLanguage` called from Zig, with no Python or C ABI in between.
//!
//!     route_native PROMPTS_FILE SENTENCES_FILE ROUTE_ITERATIONS REPETITIONS
//!
//! Both files hold `label<TAB>text` lines; either may be empty. Each prompt is routed
//! ROUTE_ITERATIONS times per repetition, then its language detected and its tokens estimated as
//! often (the parts of a route); the sentences of each label are detected once per repetition.
//! Every measurement follows one warm-up pass. Prints one JSON object: nanoseconds per call for
//! every repetition.
const std = @import("std");
const assert = std.debug.assert;
const trinity_hybrid = @import("trinity_hybrid");
const lines_file = @import("lines.zig");

const TrinityHybridNode = trinity_hybrid.TrinityHybridNode;

const repetitions_max = 1000;
const now_ms = 1_000_000;

const Line = lines_file.Line;
const readLines = lines_file.readLines;
const distinctLabels = lines_file.distinctLabels;
const linesWithLabel = lines_file.linesWithLabel;

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const arena = init.arena.allocator();
    const args = try init.minimal.args.toSlice(arena);
    if (args.len != 5) {
        std.debug.print("usage: route_native PROMPTS_FILE SENTENCES_FILE ROUTE_ITERATIONS REPETITIONS\n", .{});
        return error.Usage;
    }
    const prompts = try readLines(io, arena, args[1]);
    const sentences = try readLines(io, arena, args[2]);
    const route_iterations = try std.fmt.parseInt(u32, args[3], 10);
    const repetitions = try std.fmt.parseInt(u32, args[4], 10);
    if (route_iterations == 0 or repetitions == 0 or repetitions > repetitions_max) return error.Usage;

    const node = try TrinityHybridNode.create(init.gpa, io, .{});
    defer node.destroy();
    // The same providers as the Python benchmark's node (from_env with three keys; local always).
    const key: [20]u8 = @splat('x');
    node.setAvailable(.groq, &key);
    node.setAvailable(.zhipu, &key);
    node.setAvailable(.anthropic, &key);
    node.setAvailable(.local, "");

    var output_buffer: [64 * 1024]u8 = undefined;
    var stdout = std.Io.File.stdout().writer(io, &output_buffer);
    const out = &stdout.interface;
    try out.print("{{\"route_iterations\": {d}, \"repetitions\": {d}, \"prompts\": {{", .{ route_iterations, repetitions });
    for (prompts, 0..) |prompt, index| {
        if (index > 0) try out.writeAll(", ");
        try out.print("\"{s}\": {{\"chain\": [", .{prompt.label});
        // The chain, so that the caller can check it routes as the Python node does.
        const decision = node.route(prompt.text, .{}, now_ms);
        for (decision.route.slice(), 0..) |provider, position| {
            if (position > 0) try out.writeAll(", ");
            try out.print("\"{s}\"", .{provider.name()});
        }
        try out.writeAll("], ");
        // The parts of a route, timed alone: what remains is the lock and the selector.
        inline for (.{ Operation.route, Operation.route_chain, Operation.detect, Operation.estimate, Operation.select }, 0..) |operation, position| {
            if (position > 0) try out.writeAll(", ");
            try out.print("\"{s}\": [", .{@tagName(operation)});
            _ = timePrompt(io, node, operation, prompt.text, route_iterations); // warm-up
            for (0..repetitions) |repetition| {
                if (repetition > 0) try out.writeAll(", ");
                try out.print("{d:.2}", .{timePrompt(io, node, operation, prompt.text, route_iterations)});
            }
            try out.writeAll("]");
        }
        try out.writeAll("}");
    }
    try out.writeAll("}, \"detect\": {");
    const labels = try distinctLabels(arena, sentences);
    for (labels, 0..) |label, index| {
        if (index > 0) try out.writeAll(", ");
        const group = try linesWithLabel(arena, sentences, label);
        try out.print("\"{s}\": {{\"sentences\": {d}, \"ns_per_call\": [", .{ label, group.len });
        _ = timeDetect(io, group); // warm-up
        for (0..repetitions) |repetition| {
            if (repetition > 0) try out.writeAll(", ");
            try out.print("{d:.2}", .{timeDetect(io, group)});
        }
        try out.writeAll("]}");
    }
    try out.writeAll("}}\n");
    try out.flush();
}

/// `route_chain` is the route without naming the language (what the C ABI's packed route and so
/// Python run); `select` is the selector alone, on features computed once: the decision without reading the
/// prompt (what a caller that already knows language and size pays).
const Operation = enum { route, route_chain, detect, estimate, select };

/// Nanoseconds per call of `operation` on `prompt`, over `iterations` calls.
fn timePrompt(io: std.Io, node: *TrinityHybridNode, comptime operation: Operation, prompt: []const u8, iterations: u32) f64 {
    assert(iterations > 0);
    const features: trinity_hybrid.selector.Features = .{
        .cjk = trinity_hybrid.language.isCjkText(prompt),
        .tokens_estimated = trinity_hybrid.estimateTokens(prompt),
    };
    const context: trinity_hybrid.selector.Context = .{
        .catalogue = &node.catalogue,
        .board = &node.board,
        .available = node.available,
        .now_ms = now_ms,
    };
    const start = std.Io.Clock.awake.now(io);
    for (0..iterations) |_| {
        switch (operation) {
            .route => {
                const decision = node.route(prompt, .{}, now_ms);
                assert(decision.route.len > 0);
                std.mem.doNotOptimizeAway(decision.route.providers[0]);
            },
            .route_chain => {
                const chain = node.routeChain(prompt, .{}, now_ms);
                assert(chain.route.len > 0);
                std.mem.doNotOptimizeAway(chain.route.providers[0]);
            },
            .detect => std.mem.doNotOptimizeAway(trinity_hybrid.detectLanguage(prompt).language),
            .estimate => std.mem.doNotOptimizeAway(trinity_hybrid.estimateTokens(prompt)),
            .select => {
                const chosen = trinity_hybrid.selector.select(context, features);
                assert(chosen.len > 0);
                std.mem.doNotOptimizeAway(chosen.providers[0]);
            },
        }
    }
    const end = std.Io.Clock.awake.now(io);
    return nanosecondsPer(start.durationTo(end), iterations);
}

/// Nanoseconds per `detectLanguage` call, over one pass through `lines`.
fn timeDetect(io: std.Io, lines: []const Line) f64 {
    assert(lines.len > 0);
    const start = std.Io.Clock.awake.now(io);
    for (lines) |line| {
        const detection = trinity_hybrid.detectLanguage(line.text);
        std.mem.doNotOptimizeAway(detection.language);
    }
    const end = std.Io.Clock.awake.now(io);
    return nanosecondsPer(start.durationTo(end), lines.len);
}

fn nanosecondsPer(duration: std.Io.Duration, calls: usize) f64 {
    assert(duration.nanoseconds >= 0);
    return @as(f64, @floatFromInt(duration.nanoseconds)) / @as(f64, @floatFromInt(calls));
}
