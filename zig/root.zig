//! trinity_hybrid: the native core of the router. Language and size of a prompt in, an ordered
//! chain of providers out; outcomes recorded back into a breaker and stats table.
const std = @import("std");

pub const script = @import("script.zig");
pub const language = @import("language.zig");
pub const tokens = @import("tokens.zig");
pub const catalogue = @import("catalogue.zig");
pub const health = @import("health.zig");
pub const selector = @import("selector.zig");
pub const node = @import("trinity_hybrid_node.zig");
pub const inference = @import("infer.zig");
pub const cpu = @import("cpu.zig");

pub const ProviderId = catalogue.ProviderId;
pub const Catalogue = catalogue.Catalogue;
pub const Detection = language.Detection;
pub const Language = language.Language;
pub const Script = script.Script;
pub const TrinityHybridNode = node.TrinityHybridNode;

pub const detectLanguage = language.detect;
pub const estimateTokens = tokens.estimate;

test {
    std.testing.refAllDecls(@This());
    std.testing.refAllDecls(script);
    std.testing.refAllDecls(@import("script_table.zig"));
    std.testing.refAllDecls(@import("script_scalar.zig"));
    std.testing.refAllDecls(@import("script_vector.zig"));
    std.testing.refAllDecls(@import("utf8.zig"));
    std.testing.refAllDecls(language);
    std.testing.refAllDecls(language.model);
    std.testing.refAllDecls(@import("language_model_table.zig"));
    std.testing.refAllDecls(@import("language_arabic.zig"));
    std.testing.refAllDecls(@import("language_han.zig"));
    std.testing.refAllDecls(@import("language_prior.zig"));
    std.testing.refAllDecls(tokens);
    std.testing.refAllDecls(@import("tokens_reader.zig"));
    std.testing.refAllDecls(catalogue);
    std.testing.refAllDecls(health);
    std.testing.refAllDecls(@import("health_breaker.zig"));
    std.testing.refAllDecls(@import("health_stats.zig"));
    std.testing.refAllDecls(selector);
    std.testing.refAllDecls(@import("selector_order.zig"));
    std.testing.refAllDecls(node);
    std.testing.refAllDecls(@import("node_env.zig"));
    std.testing.refAllDecls(@import("node_status.zig"));
    std.testing.refAllDecls(inference);
    std.testing.refAllDecls(cpu);
}
