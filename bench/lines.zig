//! The `label<TAB>text` lines that the native benchmarks read (route_native.zig,
//! script_native.zig), and their grouping by label.
const std = @import("std");
const assert = std.debug.assert;

const file_bytes_max = 64 * 1024 * 1024;
const lines_max = 200_000;
const labels_max = 64;

pub const Line = struct { label: []const u8, text: []const u8 };

/// The lines of the file at `path`; every line needs a label and a text.
pub fn readLines(io: std.Io, arena: std.mem.Allocator, path: []const u8) ![]const Line {
    const text = try std.Io.Dir.cwd().readFileAlloc(io, path, arena, .limited(file_bytes_max));
    var lines: std.ArrayList(Line) = .empty;
    var iterator = std.mem.tokenizeScalar(u8, text, '\n');
    while (iterator.next()) |raw| {
        if (lines.items.len == lines_max) return error.TooManyLines;
        const tab = std.mem.indexOfScalar(u8, raw, '\t') orelse return error.MissingLabel;
        const line: Line = .{ .label = raw[0..tab], .text = raw[tab + 1 ..] };
        if (line.label.len == 0 or line.text.len == 0) return error.EmptyField;
        try lines.append(arena, line);
    }
    return lines.items;
}

/// The labels in order of first appearance.
pub fn distinctLabels(arena: std.mem.Allocator, lines: []const Line) ![]const []const u8 {
    var labels: std.ArrayList([]const u8) = .empty;
    outer: for (lines) |line| {
        for (labels.items) |label| {
            if (std.mem.eql(u8, label, line.label)) continue :outer;
        }
        if (labels.items.len == labels_max) return error.TooManyLabels;
        try labels.append(arena, line.label);
    }
    return labels.items;
}

pub fn linesWithLabel(arena: std.mem.Allocator, lines: []const Line, label: []const u8) ![]const Line {
    var group: std.ArrayList(Line) = .empty;
    for (lines) |line| {
        if (std.mem.eql(u8, line.label, label)) try group.append(arena, line);
    }
    assert(group.items.len > 0);
    return group.items;
}
