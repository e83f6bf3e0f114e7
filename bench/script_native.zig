//! Native timings of the script pass (`script.count`, what `detectLanguage` and the router's
//! `isCjkText` run over every byte of a prompt) for bench/bench_detect.py.
//!
//!     script_native SENTENCES_FILE TEXT_BYTES REPETITIONS
//!
//! SENTENCES_FILE holds `label<TAB>text` lines. Per label, the sentences joined by spaces and
//! repeated up to TEXT_BYTES make one long text, timed as a whole (throughput), and each sentence
//! is also counted on its own (the cost of a prompt-sized text). Every measurement follows one
//! warm-up pass; REPETITIONS 0 only builds the texts (the baseline of an instruction count under
//! callgrind). Prints one JSON object.
const std = @import("std");
const assert = std.debug.assert;
const trinity_hybrid = @import("trinity_hybrid");
const lines_file = @import("lines.zig");

const script = trinity_hybrid.script;

const text_bytes_max = 256 * 1024 * 1024;
const repetitions_max = 1000;

const Line = lines_file.Line;
const readLines = lines_file.readLines;
const distinctLabels = lines_file.distinctLabels;
const linesWithLabel = lines_file.linesWithLabel;

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const arena = init.arena.allocator();
    const args = try init.minimal.args.toSlice(arena);
    if (args.len != 4) {
        std.debug.print("usage: script_native SENTENCES_FILE TEXT_BYTES REPETITIONS\n", .{});
        return error.Usage;
    }
    const lines = try readLines(io, arena, args[1]);
    const text_bytes = try std.fmt.parseInt(usize, args[2], 10);
    const repetitions = try std.fmt.parseInt(u32, args[3], 10);
    if (text_bytes == 0 or text_bytes > text_bytes_max or repetitions > repetitions_max) return error.Usage;

    var output_buffer: [64 * 1024]u8 = undefined;
    var stdout = std.Io.File.stdout().writer(io, &output_buffer);
    const out = &stdout.interface;
    try out.print("{{\"repetitions\": {d}, \"labels\": {{", .{repetitions});
    const labels = try distinctLabels(arena, lines);
    for (labels, 0..) |label, index| {
        if (index > 0) try out.writeAll(", ");
        const group = try linesWithLabel(arena, lines, label);
        const text = try longText(arena, group, text_bytes);
        try out.print("\"{s}\": {{\"text_bytes\": {d}, \"sentences\": {d}, \"letters\": {d}, \"ns_per_text\": [", .{
            label, text.len, group.len, script.count(text).letters_total,
        });
        if (repetitions > 0) _ = timeText(io, text); // warm-up
        for (0..repetitions) |repetition| {
            if (repetition > 0) try out.writeAll(", ");
            try out.print("{d}", .{timeText(io, text)});
        }
        try out.writeAll("], \"ns_per_sentence\": [");
        if (repetitions > 0) _ = timeSentences(io, group); // warm-up
        for (0..repetitions) |repetition| {
            if (repetition > 0) try out.writeAll(", ");
            try out.print("{d:.2}", .{timeSentences(io, group)});
        }
        try out.writeAll("]}");
    }
    try out.writeAll("}}\n");
    try out.flush();
}

/// The sentences joined by spaces, repeated until the text holds `text_bytes` (cut at a
/// sentence's end, so the text stays valid UTF-8).
fn longText(arena: std.mem.Allocator, group: []const Line, text_bytes: usize) ![]const u8 {
    var text: std.ArrayList(u8) = .empty;
    try text.ensureTotalCapacity(arena, text_bytes + 4096);
    outer: while (true) {
        for (group) |line| {
            if (text.items.len + line.text.len + 1 > text_bytes) break :outer;
            try text.appendSlice(arena, line.text);
            try text.append(arena, ' ');
        }
    }
    assert(text.items.len > 0);
    return text.items;
}

/// Nanoseconds to count the scripts of `text` once.
fn timeText(io: std.Io, text: []const u8) u64 {
    const start = std.Io.Clock.awake.now(io);
    std.mem.doNotOptimizeAway(script.count(text).letters_total);
    const end = std.Io.Clock.awake.now(io);
    const duration = start.durationTo(end);
    assert(duration.nanoseconds >= 0);
    return @intCast(duration.nanoseconds);
}

/// Nanoseconds per sentence, counting each sentence's scripts once.
fn timeSentences(io: std.Io, group: []const Line) f64 {
    assert(group.len > 0);
    const start = std.Io.Clock.awake.now(io);
    for (group) |line| std.mem.doNotOptimizeAway(script.count(line.text).letters_total);
    const end = std.Io.Clock.awake.now(io);
    const duration = start.durationTo(end);
    assert(duration.nanoseconds >= 0);
    return @as(f64, @floatFromInt(duration.nanoseconds)) / @as(f64, @floatFromInt(group.len));
}
