//! An example Zig program that uses trinity_hybrid as a package dependency, the way a user's
//! project would. The root package's `zig build test` builds and runs it.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const trinity_hybrid = b.dependency("trinity_hybrid", .{ .target = target, .optimize = optimize });
    const exe = b.addExecutable(.{
        .name = "trinity_hybrid_example",
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/main.zig"),
            .target = target,
            .optimize = optimize,
            .imports = &.{.{ .name = "trinity_hybrid", .module = trinity_hybrid.module("trinity_hybrid") }},
        }),
    });
    b.installArtifact(exe);
    const run = b.addRunArtifact(exe);
    b.step("run", "Run the example").dependOn(&run.step);
}
