//! Routes a few prompts with `TrinityHybridNode.initFromEnv`, answers them through a transport
//! of our own (an echo: a real program would speak HTTP here), and prints the status.
const std = @import("std");
const trinity_hybrid = @import("trinity_hybrid");

const TrinityHybridNode = trinity_hybrid.TrinityHybridNode;
const inference = trinity_hybrid.inference;

/// Echoes the prompt back, and fails the first provider it is given to show the fallback.
const EchoTransport = struct {
    calls: u32 = 0,

    fn call(context: *anyopaque, allocator: std.mem.Allocator, request: inference.TransportRequest, failure: *inference.TransportFailure) inference.TransportError!inference.Completion {
        const self: *EchoTransport = @ptrCast(@alignCast(context));
        self.calls += 1;
        if (self.calls == 1 and request.provider != .local) {
            failure.* = .{ .kind = .transient };
            return error.CallFailed;
        }
        const text = try std.fmt.allocPrint(allocator, "[{s}/{s}] {s}", .{ request.provider.name(), request.model, request.prompt });
        return .{ .text = text, .tokens_input = trinity_hybrid.estimateTokens(request.prompt), .tokens_output = 8 };
    }
};

pub fn main(init: std.process.Init) !void {
    const allocator = init.gpa;
    const node = try TrinityHybridNode.initFromEnv(allocator, init.io, init.environ_map);
    defer node.destroy();
    // With no key in the environment only `local` is available; make two remote providers
    // available so the example shows a chain and a fallback.
    node.setAvailable(.groq, "example-key-not-a-secret");
    node.setAvailable(.zhipu, "example-key-not-a-secret");

    var echo: EchoTransport = .{};
    const transport: inference.Transport = .{ .context = &echo, .callFn = EchoTransport.call };
    const prompts = [_][]const u8{ "What is 2 + 2?", "请解释量子计算。", "東京の天気はどうですか？" };
    for (prompts) |prompt| {
        var result = try node.infer(allocator, transport, .{ .prompt = prompt });
        defer result.deinit(allocator);
        std.debug.print("{s} -> {s} after {d} attempt(s): {s}\n", .{
            trinity_hybrid.language.code(result.language), result.provider.name(), result.attempts_len, result.text,
        });
        if (result.text.len == 0) return error.EmptyAnswer;
    }
    node.printStatus(node.nowMs());
}
