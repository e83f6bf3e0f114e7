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
    // An x86-64 wheel ships a baseline build beside the x86-64-v3 one, and their vector paths
    // differ (16-byte blocks without AVX2): on an x86-64 machine the core's tests run for the
    // baseline CPU too.
    if (target.result.cpu.arch == .x86_64 and target.query.isNative()) {
        const baseline = b.resolveTargetQuery(.{ .cpu_arch = .x86_64, .os_tag = target.result.os.tag, .cpu_model = .baseline });
        const baseline_tests = b.addTest(.{
            .name = "test-baseline",
            .root_module = b.createModule(.{ .root_source_file = b.path("zig/root.zig"), .target = baseline, .optimize = optimize }),
        });
        test_step.dependOn(&b.addRunArtifact(baseline_tests).step);
    }

    // The example is a separate package that depends on this one through `b.dependency`, exactly
    // as a user's project would; building and running it proves the package interface works.
    const example = b.addSystemCommand(&.{ b.graph.zig_exe, "build", "run", "--summary", "none" });
    example.setCwd(b.path("examples/zig_consumer"));
    example.has_side_effects = true;
    test_step.dependOn(&example.step);
}
