//! A node configured from the process environment (`TrinityHybridNode.initFromEnv`): which
//! providers have a key, model overrides and the default provider, under the variable names of
//! the catalogue's environment table.
const std = @import("std");
const Allocator = std.mem.Allocator;

const catalogue_module = @import("catalogue.zig");
const node_module = @import("trinity_hybrid_node.zig");

const ProviderId = catalogue_module.ProviderId;
const ConfigError = node_module.ConfigError;
const TrinityHybridNode = node_module.TrinityHybridNode;

/// Reads which providers have a key (`GROQ_API_KEY`, ...), model overrides
/// (`<PROVIDER>_MODEL`) and `DEFAULT_LLM_PROVIDER`. Key text is never kept: only its mask.
/// The local provider is marked available: a Zig program's transport decides what it is.
pub fn initFromEnv(allocator: Allocator, io: std.Io, environ: *const std.process.Environ.Map) (Allocator.Error || ConfigError)!*TrinityHybridNode {
    const node = try TrinityHybridNode.create(allocator, io, .{});
    errdefer node.destroy();
    for (std.meta.tags(ProviderId)) |id| {
        const variables = catalogue_module.environment[id.index()];
        if (id == .local) node.setAvailable(id, "");
        // A custom endpoint is defined by its URL; its key is optional.
        if (id == .custom and environ.get(variables.base_url_variable) != null) node.setAvailable(id, "");
        for (variables.key_variables) |variable| {
            const key = environ.get(variable) orelse continue;
            if (key.len == 0) continue;
            node.setAvailable(id, key);
            break;
        }
        if (environ.get(variables.model_variable)) |model_name| {
            node.catalogue.getMutable(id).setModel(model_name) catch return error.InvalidConfig;
        }
    }
    if (environ.get("DEFAULT_LLM_PROVIDER")) |name| {
        node.preferred_provider = ProviderId.fromName(name) orelse return error.InvalidConfig;
    }
    return node;
}

test "initFromEnv keeps only the key's mask" {
    var environ: std.process.Environ.Map = .init(std.testing.allocator);
    defer environ.deinit();
    try environ.put("GROQ_API_KEY", "gsk_secretsecretsecret");
    try environ.put("MOONSHOT_API_KEY", "sk-moonshot-secret-value");
    try environ.put("ZHIPU_MODEL", "glm-4.5");
    try environ.put("DEFAULT_LLM_PROVIDER", "zhipu");
    const node = try TrinityHybridNode.initFromEnv(std.testing.allocator, std.testing.io, &environ);
    defer node.destroy();
    try std.testing.expect(node.isAvailable(.groq));
    try std.testing.expect(node.isAvailable(.kimi));
    try std.testing.expect(node.isAvailable(.local));
    try std.testing.expect(!node.isAvailable(.openai));
    try std.testing.expectEqualStrings("glm-4.5", node.provider(.zhipu).model());
    try std.testing.expectEqual(ProviderId.zhipu, node.preferred_provider.?);

    var output: std.Io.Writer.Allocating = .init(std.testing.allocator);
    defer output.deinit();
    try node.writeStatus(&output.writer, 0);
    const status = output.written();
    try std.testing.expect(std.mem.indexOf(u8, status, "gsk_secr***") != null);
    try std.testing.expect(std.mem.indexOf(u8, status, "secretsecret") == null);
    try std.testing.expect(std.mem.indexOf(u8, status, "moonshot-secret") == null);
}

test "initFromEnv rejects an unknown default provider" {
    var environ: std.process.Environ.Map = .init(std.testing.allocator);
    defer environ.deinit();
    try environ.put("DEFAULT_LLM_PROVIDER", "nope");
    try std.testing.expectError(error.InvalidConfig, TrinityHybridNode.initFromEnv(std.testing.allocator, std.testing.io, &environ));
}
