//! The C ABI's text features: language detection (full, packed into one word, and of a
//! NUL-terminated text), the token estimate and key masking. Part of the library's C ABI, which
//! `c_api.zig` roots.
const std = @import("std");
const assert = std.debug.assert;
const core = @import("trinity_hybrid");
const c_api = @import("c_api.zig");

const catalogue = core.catalogue;
const language = core.language;
const Detection = c_api.Detection;
const Status = c_api.Status;
const textLength = c_api.textLength;
const textSlice = c_api.textSlice;

pub fn detectionToC(detection: language.Detection) Detection {
    return .{
        .language = @backingInt(detection.language),
        .confidence = detection.confidence,
        .letters = detection.letters,
        .bytes_invalid = detection.bytes_invalid,
        .script_shares = detection.script_shares,
    };
}

pub export fn th_detect_language(text: ?[*]const u8, text_len: usize, out: ?*Detection) Status {
    const bytes = textSlice(text, text_len) orelse return .invalid_argument;
    const target = out orelse return .invalid_argument;
    target.* = detectionToC(language.detect(bytes));
    return .ok;
}

/// `th_detect_language` in one small integer, for bindings whose per-call cost is dominated by
/// marshalling (cffi in ABI mode pays for every argument and every struct read): bits 0-4 the
/// language index, bits 5-28 the confidence in 24-bit fixed point. It stays below 2^30 so that
/// CPython holds it in a single digit, where its shifts and masks take the fast paths. Letter
/// counts and script shares need the full call. The language index 31 means a bad argument.
pub const detection_packed_language_bits = 5;
pub const detection_packed_invalid: u32 = (1 << detection_packed_language_bits) - 1;
pub const confidence_packed_one: u32 = (1 << 24) - 1;

comptime {
    assert(@typeInfo(language.Language).@"enum".field_names.len < detection_packed_invalid);
    assert(confidence_packed_one << detection_packed_language_bits | detection_packed_invalid < 1 << 30);
}

fn detectionPacked(detection: language.Detection) u32 {
    assert(detection.confidence >= 0.0);
    assert(detection.confidence <= 1.0);
    const confidence: u32 = @intFromFloat(@round(detection.confidence * @as(f32, confidence_packed_one)));
    assert(confidence <= confidence_packed_one);
    return @as(u32, @backingInt(detection.language)) | confidence << detection_packed_language_bits;
}

export fn th_detect_language_packed(text: ?[*]const u8, text_len: usize) u32 {
    const bytes = textSlice(text, text_len) orelse return detection_packed_invalid;
    return detectionPacked(language.detect(bytes));
}

/// `th_detect_language_packed` of a NUL-terminated text: one argument less through a binding
/// such as cffi's ABI mode, where each costs more than finding the NUL.
export fn th_detect_language_text(text: ?[*:0]const u8) u32 {
    const bytes = text orelse return detection_packed_invalid;
    return detectionPacked(language.detect(bytes[0..textLength(bytes)]));
}

export fn th_estimate_tokens(text: ?[*]const u8, text_len: usize) u64 {
    const bytes = textSlice(text, text_len) orelse return 0;
    return core.tokens.estimate(bytes);
}

export fn th_mask_key(key: ?[*]const u8, key_len: usize, out: ?[*]u8, out_capacity: usize, out_len: ?*usize) Status {
    const key_bytes = textSlice(key, key_len) orelse return .invalid_argument;
    const target = out orelse return .invalid_argument;
    const length_target = out_len orelse return .invalid_argument;
    var buffer: [catalogue.key_mask_bytes_max]u8 = undefined;
    const mask = catalogue.maskKey(key_bytes, &buffer);
    length_target.* = mask.len;
    if (out_capacity < mask.len) return .buffer_too_small;
    @memcpy(target[0..mask.len], mask);
    return .ok;
}

test "the packed detection agrees with the full one" {
    const texts = [_][]const u8{ "Hello there, how are you?", "日本の首都はどこですか", "", "12345", "Привет, как дела?" };
    for (texts) |text| {
        var full: Detection = undefined;
        try std.testing.expectEqual(Status.ok, th_detect_language(text.ptr, text.len, &full));
        const word = th_detect_language_packed(text.ptr, text.len);
        try std.testing.expect(word < 1 << 30);
        try std.testing.expectEqual(full.language, word & detection_packed_invalid);
        const confidence: f32 = @as(f32, @floatFromInt(word >> detection_packed_language_bits)) / @as(f32, confidence_packed_one);
        try std.testing.expectApproxEqAbs(full.confidence, confidence, 1e-6);
    }
    try std.testing.expectEqual(detection_packed_invalid, th_detect_language_packed(null, 3));
    try std.testing.expectEqual(detection_packed_invalid, th_detect_language_text(null));
    // The text ends at its NUL: Russian, then the same Russian after an English word and a NUL.
    const russian = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80";
    try std.testing.expectEqual(th_detect_language_packed(russian, russian.len), th_detect_language_text(russian));
    try std.testing.expectEqual(th_detect_language_packed("hello", 5), th_detect_language_text("hello\x00" ++ russian));
}
