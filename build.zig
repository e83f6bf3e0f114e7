//! Builds the trinity_hybrid Zig package: the `trinity_hybrid` module for Zig consumers, the
//! `trinity_hybrid` shared library with the C ABI that Python loads, and a `test` step that runs
//! every Zig test plus the example consumer under `examples/`.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const module = b.addModule("trinity_hybrid", .{
        .root_source_file = b.path("zig/root.zig"),
        .target = target,
        .optimize = optimize,
    });

    // The C ABI lives in its own root so that Zig consumers of the module never see `export fn`.
    const library = b.addLibrary(.{
        .name = "trinity_hybrid",
        .linkage = .dynamic,
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/c_api.zig"),
            .target = target,
            .optimize = optimize,
            .imports = &.{.{ .name = "trinity_hybrid", .module = module }},
            // Python loads this library into a process that may already hold many threads.
            .pic = true,
            .strip = optimize != .debug,
        }),
    });
    b.installArtifact(library);
    library.installHeader(b.path("include/trinity_hybrid.h"), "trinity_hybrid.h");

    const test_step = b.step("test", "Run every Zig test and build the example consumer");
    const module_tests = b.addTest(.{ .root_module = module });
    test_step.dependOn(&b.addRunArtifact(module_tests).step);
    const c_api_tests = b.addTest(.{ .root_module = library.root_module });
    test_step.dependOn(&b.addRunArtifact(c_api_tests).step);

    // The example is a separate package that depends on this one through `b.dependency`, exactly
    // as a user's project would; building and running it proves the package interface works.
    const example = b.addSystemCommand(&.{ b.graph.zig_exe, "build", "run", "--summary", "none" });
    example.setCwd(b.path("examples/zig_consumer"));
    example.has_side_effects = true;
    test_step.dependOn(&example.step);
}
