//! The CPU the library runs on, for bindings that ship more than one build of it: an x86-64
//! wheel holds a baseline library (SSE2, runs anywhere) and one for x86-64-v3 (AVX2, BMI2, FMA,
//! MOVBE, ...), whose vector paths go 32 bytes at a time. The baseline build answers whether
//! this machine may load the other.
const std = @import("std");
const builtin = @import("builtin");

/// The x86-64 microarchitecture levels that a build may target.
pub const Level = enum(u32) {
    /// Not x86-64, or x86-64 without all of v3.
    baseline = 0,
    x86_64_v3 = 3,
};

/// The highest level this machine runs, asked of the CPU and the operating system (which must
/// save the AVX registers on a context switch), not of the build's target.
pub fn machineLevel() Level {
    if (builtin.cpu.arch != .x86_64) return .baseline;
    return if (supportsV3(Registers.read())) .x86_64_v3 else .baseline;
}

/// The level this library was compiled for.
pub fn buildLevel() Level {
    if (builtin.cpu.arch != .x86_64) return .baseline;
    const features = builtin.cpu.features;
    const x86 = std.Target.x86;
    const v3 = [_]x86.Feature{ .avx2, .bmi, .bmi2, .fma, .f16c, .lzcnt, .movbe, .xsave };
    for (v3) |feature| {
        if (!x86.featureSetHas(features, feature)) return .baseline;
    }
    return .x86_64_v3;
}

/// The CPUID words that x86-64-v3 is read from, and XCR0.
const Registers = struct {
    leaf1_ecx: u32,
    leaf7_ebx: u32,
    extended1_ecx: u32,
    xcr0: u32,

    fn read() Registers {
        const maximum = cpuid(0, 0).eax;
        const extended_maximum = cpuid(0x8000_0000, 0).eax;
        const leaf1_ecx = cpuid(1, 0).ecx;
        const osxsave = leaf1_ecx & (1 << 27) != 0;
        return .{
            .leaf1_ecx = leaf1_ecx,
            .leaf7_ebx = if (maximum >= 7) cpuid(7, 0).ebx else 0,
            .extended1_ecx = if (extended_maximum >= 0x8000_0001) cpuid(0x8000_0001, 0).ecx else 0,
            // XGETBV faults unless the operating system enabled it (OSXSAVE).
            .xcr0 = if (osxsave) xcr0() else 0,
        };
    }
};

/// x86-64-v3 as LLVM defines it: v2 (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B, LAHF)
/// plus AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE and XSAVE, with the SSE and AVX register
/// state enabled by the operating system.
fn supportsV3(registers: Registers) bool {
    const leaf1_ecx_bits = [_]u5{
        0, // SSE3
        9, // SSSE3
        12, // FMA
        13, // CMPXCHG16B
        19, // SSE4.1
        20, // SSE4.2
        22, // MOVBE
        23, // POPCNT
        26, // XSAVE
        27, // OSXSAVE
        28, // AVX
        29, // F16C
    };
    const leaf7_ebx_bits = [_]u5{
        3, // BMI1
        5, // AVX2
        8, // BMI2
    };
    const extended1_ecx_bits = [_]u5{
        0, // LAHF/SAHF
        5, // LZCNT
    };
    inline for (leaf1_ecx_bits) |bit| if (registers.leaf1_ecx & (1 << bit) == 0) return false;
    inline for (leaf7_ebx_bits) |bit| if (registers.leaf7_ebx & (1 << bit) == 0) return false;
    inline for (extended1_ecx_bits) |bit| if (registers.extended1_ecx & (1 << bit) == 0) return false;
    const sse_and_avx_state = 0b110;
    return registers.xcr0 & sse_and_avx_state == sse_and_avx_state;
}

const CpuidLeaf = struct { eax: u32, ebx: u32, ecx: u32, edx: u32 };

fn cpuid(leaf: u32, subleaf: u32) CpuidLeaf {
    var eax: u32 = undefined;
    var ebx: u32 = undefined;
    var ecx: u32 = undefined;
    var edx: u32 = undefined;
    asm volatile ("cpuid"
        : [_] "={eax}" (eax),
          [_] "={ebx}" (ebx),
          [_] "={ecx}" (ecx),
          [_] "={edx}" (edx),
        : [_] "{eax}" (leaf),
          [_] "{ecx}" (subleaf),
    );
    return .{ .eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx };
}

fn xcr0() u32 {
    return asm volatile (
        \\ xor %%ecx, %%ecx
        \\ xgetbv
        : [_] "={eax}" (-> u32),
        :
        : .{ .edx = true, .ecx = true });
}

test "a build for x86-64-v3 runs only where the machine reports x86-64-v3" {
    // This test runs, so the machine executes the build's instructions.
    if (buildLevel() == .x86_64_v3) try std.testing.expectEqual(Level.x86_64_v3, machineLevel());
    if (builtin.cpu.arch != .x86_64) try std.testing.expectEqual(Level.baseline, machineLevel());
}

test "supportsV3 needs every feature and the operating system's AVX state" {
    const all: Registers = .{
        .leaf1_ecx = 0xFFFF_FFFF,
        .leaf7_ebx = 0xFFFF_FFFF,
        .extended1_ecx = 0xFFFF_FFFF,
        .xcr0 = 0b111,
    };
    try std.testing.expect(supportsV3(all));
    // Each required bit alone missing fails the check; a bit that is not required does not.
    for (0..32) |bit| {
        const mask = ~(@as(u32, 1) << @intCast(bit));
        var registers = all;
        registers.leaf1_ecx &= mask;
        const leaf1_required = switch (bit) {
            0, 9, 12, 13, 19, 20, 22, 23, 26, 27, 28, 29 => true,
            else => false,
        };
        try std.testing.expectEqual(!leaf1_required, supportsV3(registers));
        registers = all;
        registers.leaf7_ebx &= mask;
        try std.testing.expectEqual(!(bit == 3 or bit == 5 or bit == 8), supportsV3(registers));
        registers = all;
        registers.extended1_ecx &= mask;
        try std.testing.expectEqual(!(bit == 0 or bit == 5), supportsV3(registers));
    }
    var registers = all;
    registers.xcr0 = 0b011; // The operating system does not save the AVX registers.
    try std.testing.expect(!supportsV3(registers));
}
