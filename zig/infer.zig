//! `infer` for Zig programs: route, then try each provider of the chain through a transport the
//! caller supplies, recording every outcome. In the Python product the same loop lives in Python
//! (the HTTP is Python's); this one is for Zig programs that link the core directly.
const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;

const catalogue_module = @import("catalogue.zig");
const health = @import("health.zig");
const node_module = @import("trinity_hybrid_node.zig");
const language = @import("language.zig");

const ProviderId = catalogue_module.ProviderId;
const TrinityHybridNode = node_module.TrinityHybridNode;

pub const TransportRequest = struct {
    provider: ProviderId,
    model: []const u8,
    prompt: []const u8,
    tokens_output_max: u32,
};

/// What a transport returns on success. `text` is allocated with the allocator passed to `call`
/// and owned by the caller of `infer` afterwards.
pub const Completion = struct {
    text: []u8,
    tokens_input: u64,
    tokens_output: u64,
};

/// A transport fills this when it fails, so the breaker knows how to treat the failure.
pub const TransportFailure = struct {
    kind: health.FailureKind = .transient,
    retry_after_ms: u64 = 0,
};

pub const TransportError = error{ CallFailed, OutOfMemory };

/// The caller's way of talking to providers (HTTP, a local model, a test double).
pub const Transport = struct {
    context: *anyopaque,
    callFn: *const fn (context: *anyopaque, allocator: Allocator, request: TransportRequest, failure: *TransportFailure) TransportError!Completion,

    pub fn call(transport: Transport, allocator: Allocator, request: TransportRequest, failure: *TransportFailure) TransportError!Completion {
        return transport.callFn(transport.context, allocator, request, failure);
    }
};

pub const Outcome = enum { success, failure, skipped_open_circuit };

pub const Attempt = struct {
    provider: ProviderId,
    outcome: Outcome,
    failure_kind: ?health.FailureKind = null,
    latency_ms: u32 = 0,
};

pub const InferRequest = struct {
    prompt: []const u8,
    quality: bool = false,
    force_provider: ?ProviderId = null,
    strategy: ?node_module.Strategy = null,
    tokens_output_max: u32 = 512,
};

pub const InferResult = struct {
    text: []u8,
    provider: ProviderId,
    language: language.Language,
    tokens_input: u64,
    tokens_output: u64,
    cost_usd: f64,
    attempts: [catalogue_module.providers_max]Attempt,
    attempts_len: u8,

    pub fn attemptsSlice(result: *const InferResult) []const Attempt {
        return result.attempts[0..result.attempts_len];
    }

    pub fn deinit(result: *InferResult, allocator: Allocator) void {
        allocator.free(result.text);
        result.* = undefined;
    }
};

/// `NoProviderAvailable`: the chain was empty. `ClientError`: the request itself was rejected
/// (no other provider would accept it either). `AllProvidersFailed`: every provider failed.
pub const InferError = error{ NoProviderAvailable, ClientError, AllProvidersFailed, OutOfMemory };

pub fn infer(node: *TrinityHybridNode, allocator: Allocator, transport: Transport, request: InferRequest) InferError!InferResult {
    const decision = node.route(request.prompt, .{
        .quality = request.quality,
        .force_provider = request.force_provider,
        .strategy = request.strategy,
        .tokens_reserved_output = request.tokens_output_max,
    }, node.nowMs());
    const chain = decision.route.slice();
    if (chain.len == 0) return error.NoProviderAvailable;

    var result: InferResult = .{
        .text = &.{},
        .provider = chain[0],
        .language = decision.detection.language,
        .tokens_input = 0,
        .tokens_output = 0,
        .cost_usd = 0,
        .attempts = undefined,
        .attempts_len = 0,
    };
    for (chain) |id| {
        assert(result.attempts_len < catalogue_module.providers_max);
        const attempt = &result.attempts[result.attempts_len];
        result.attempts_len += 1;
        attempt.* = .{ .provider = id, .outcome = .skipped_open_circuit };
        switch (node.admit(id, node.nowMs())) {
            .allowed, .allowed_probe => {},
            .denied_open, .denied_probe_in_flight => continue,
        }
        const started_ms = node.nowMs();
        var failure: TransportFailure = .{};
        const model_copy = node.provider(id);
        const completion = transport.call(allocator, .{
            .provider = id,
            .model = model_copy.model(),
            .prompt = request.prompt,
            .tokens_output_max = request.tokens_output_max,
        }, &failure) catch |err| switch (err) {
            error.OutOfMemory => return error.OutOfMemory,
            error.CallFailed => {
                const finished_ms = node.nowMs();
                attempt.* = .{
                    .provider = id,
                    .outcome = .failure,
                    .failure_kind = failure.kind,
                    .latency_ms = elapsedMs(started_ms, finished_ms),
                };
                node.recordFailure(id, finished_ms, .{ .kind = failure.kind, .latency_ms = attempt.latency_ms, .retry_after_ms = failure.retry_after_ms });
                if (failure.kind == .client) return error.ClientError;
                continue;
            },
        };
        const finished_ms = node.nowMs();
        attempt.* = .{ .provider = id, .outcome = .success, .latency_ms = elapsedMs(started_ms, finished_ms) };
        result.cost_usd = node.recordSuccess(id, finished_ms, attempt.latency_ms, completion.tokens_input, completion.tokens_output);
        result.text = completion.text;
        result.provider = id;
        result.tokens_input = completion.tokens_input;
        result.tokens_output = completion.tokens_output;
        return result;
    }
    return error.AllProvidersFailed;
}

fn elapsedMs(started_ms: u64, finished_ms: u64) u32 {
    return std.math.lossyCast(u32, finished_ms -| started_ms);
}

/// A transport for tests: fails the providers listed in `failing` with `failure_kind`, answers
/// the rest with "<provider>: <prompt>".
const TestTransport = struct {
    failing: []const ProviderId,
    failure_kind: health.FailureKind = .transient,
    calls: [catalogue_module.providers_max]ProviderId = undefined,
    calls_len: usize = 0,

    fn transport(self: *TestTransport) Transport {
        return .{ .context = self, .callFn = call };
    }

    fn call(context: *anyopaque, allocator: Allocator, request: TransportRequest, failure: *TransportFailure) TransportError!Completion {
        const self: *TestTransport = @ptrCast(@alignCast(context));
        self.calls[self.calls_len] = request.provider;
        self.calls_len += 1;
        if (std.mem.indexOfScalar(ProviderId, self.failing, request.provider) != null) {
            failure.* = .{ .kind = self.failure_kind };
            return error.CallFailed;
        }
        const text = try std.fmt.allocPrint(allocator, "{s}: {s}", .{ request.provider.name(), request.prompt });
        return .{ .text = text, .tokens_input = 7, .tokens_output = 3 };
    }
};

fn testNode(available: []const ProviderId) !*TrinityHybridNode {
    const node = try TrinityHybridNode.create(std.testing.allocator, std.testing.io, .{});
    for (available) |id| node.setAvailable(id, "test-key-not-secret");
    return node;
}

test "infer falls back through the chain and records each outcome" {
    const node = try testNode(&.{ .groq, .openai, .anthropic, .local });
    defer node.destroy();
    var test_transport: TestTransport = .{ .failing = &.{ .groq, .openai } };
    var result = try infer(node, std.testing.allocator, test_transport.transport(), .{ .prompt = "Hello there, how are you?" });
    defer result.deinit(std.testing.allocator);
    try std.testing.expectEqual(@as(usize, 3), test_transport.calls_len);
    try std.testing.expectEqual(ProviderId.groq, test_transport.calls[0]);
    try std.testing.expect(result.provider != .groq and result.provider != .openai);
    try std.testing.expectEqual(@as(u8, 3), result.attempts_len);
    try std.testing.expectEqual(Outcome.failure, result.attemptsSlice()[0].outcome);
    try std.testing.expectEqual(Outcome.success, result.attemptsSlice()[2].outcome);
    try std.testing.expect(std.mem.endsWith(u8, result.text, "Hello there, how are you?"));
    try std.testing.expectEqual(@as(u64, 1), node.snapshot(.groq, node.nowMs()).calls_failed);
    try std.testing.expectEqual(@as(u64, 1), node.snapshot(result.provider, node.nowMs()).calls_successful);
}

test "infer opens the breaker after three failures and then skips the provider" {
    const node = try testNode(&.{ .groq, .local });
    defer node.destroy();
    var test_transport: TestTransport = .{ .failing = &.{.groq} };
    for (0..3) |_| {
        var result = try infer(node, std.testing.allocator, test_transport.transport(), .{ .prompt = "ping" });
        result.deinit(std.testing.allocator);
    }
    try std.testing.expectEqual(health.CircuitState.open, node.snapshot(.groq, node.nowMs()).state);
    test_transport.calls_len = 0;
    var result = try infer(node, std.testing.allocator, test_transport.transport(), .{ .prompt = "ping" });
    defer result.deinit(std.testing.allocator);
    try std.testing.expectEqual(@as(usize, 1), test_transport.calls_len);
    try std.testing.expectEqual(ProviderId.local, result.provider);
}

test "infer reports all failures and client errors" {
    const node = try testNode(&.{ .groq, .local });
    defer node.destroy();
    var failing_all: TestTransport = .{ .failing = &.{ .groq, .local } };
    try std.testing.expectError(error.AllProvidersFailed, infer(node, std.testing.allocator, failing_all.transport(), .{ .prompt = "ping" }));
    var client: TestTransport = .{ .failing = &.{.groq}, .failure_kind = .client };
    try std.testing.expectError(error.ClientError, infer(node, std.testing.allocator, client.transport(), .{ .prompt = "ping" }));
    try std.testing.expectEqual(@as(usize, 1), client.calls_len);
}

test "infer with a forced provider uses only that provider" {
    const node = try testNode(&.{ .groq, .anthropic, .local });
    defer node.destroy();
    var test_transport: TestTransport = .{ .failing = &.{.anthropic} };
    try std.testing.expectError(error.AllProvidersFailed, infer(node, std.testing.allocator, test_transport.transport(), .{ .prompt = "ping", .force_provider = .anthropic }));
    try std.testing.expectEqual(@as(usize, 1), test_transport.calls_len);
}

test "infer with nothing available" {
    const node = try TrinityHybridNode.create(std.testing.allocator, std.testing.io, .{});
    defer node.destroy();
    var test_transport: TestTransport = .{ .failing = &.{} };
    try std.testing.expectError(error.NoProviderAvailable, infer(node, std.testing.allocator, test_transport.transport(), .{ .prompt = "ping" }));
}

test "infer leaks nothing when allocation fails" {
    const node = try testNode(&.{ .groq, .local });
    defer node.destroy();
    var test_transport: TestTransport = .{ .failing = &.{} };
    var failing_allocator: std.testing.FailingAllocator = .init(std.testing.allocator, .{ .fail_index = 0 });
    try std.testing.expectError(error.OutOfMemory, infer(node, failing_allocator.allocator(), test_transport.transport(), .{ .prompt = "ping" }));
}
