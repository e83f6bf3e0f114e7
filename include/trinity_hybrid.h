/*
 * trinity_hybrid.h: the C ABI of the trinity-hybrid native core.
 *
 * Every function is exported from zig/c_api.zig. Handles are opaque; functions that can fail
 * return a th_status; text is passed as (pointer, length) and need not be NUL-terminated or valid
 * UTF-8. Thread-safe: a th_node may be used from many threads at once.
 *
 * Enumerations are passed as uint32_t indices; their names come from the *_name functions, so a
 * binding never hard-codes them. Check th_abi_version() == TH_ABI_VERSION before anything else.
 */
#ifndef TRINITY_HYBRID_H
#define TRINITY_HYBRID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cdef-begin: everything from here to cdef-end is read by the Python binding (cffi ABI mode) */
#define TH_ABI_VERSION 9
#define TH_PROVIDERS_MAX 16
#define TH_SCRIPT_COUNT 12
#define TH_MODEL_BYTES_MAX 96
#define TH_KEY_MASK_BYTES_MAX 12
#define TH_STRATEGY_NODE_DEFAULT 4294967295
#define TH_PROVIDER_NONE -1

typedef enum th_status {
    TH_OK = 0,
    TH_ERROR_INVALID_ARGUMENT = 1,
    TH_ERROR_OUT_OF_MEMORY = 2,
    TH_ERROR_UNKNOWN_PROVIDER = 3,
    TH_ERROR_BUFFER_TOO_SMALL = 4,
    TH_ERROR_INVALID_CONFIG = 5
} th_status;

/* Failure kinds for th_node_record_failure. */
enum {
    TH_FAILURE_TRANSIENT = 0,
    TH_FAILURE_RATE_LIMITED = 1,
    TH_FAILURE_CREDENTIAL = 2,
    TH_FAILURE_CLIENT = 3,
    TH_FAILURE_QUOTA_EXHAUSTED = 4
};

/* Results of th_node_admit. */
enum {
    TH_ADMISSION_ALLOWED = 0,
    TH_ADMISSION_ALLOWED_PROBE = 1,
    TH_ADMISSION_DENIED_OPEN = 2,
    TH_ADMISSION_DENIED_PROBE_IN_FLIGHT = 3
};

typedef struct th_node th_node;

typedef struct th_detection {
    uint32_t language;       /* index: th_language_code() names it */
    float confidence;        /* [0, 1] */
    uint32_t letters;
    uint32_t bytes_invalid;
    float script_shares[TH_SCRIPT_COUNT]; /* share of letters per script; all 0 without letters */
} th_detection;

typedef struct th_provider_info {
    char model[TH_MODEL_BYTES_MAX]; /* NUL-terminated */
    uint32_t context_window_tokens;
    uint32_t quality_tier;
    float speed_tokens_per_s;
    double price_input_usd_per_mtok;
    double price_output_usd_per_mtok;
    uint8_t strengths; /* bit 0 cjk, 1 long_context, 2 quality, 3 speed, 4 code */
    uint8_t local;
    uint8_t priority;
    uint8_t reserved;
} th_provider_info;

typedef struct th_breaker_config {
    uint32_t failure_threshold;
    uint32_t reserved;
    uint64_t cooldown_ms;
    uint64_t credential_cooldown_ms;
    uint64_t quota_cooldown_ms;
    uint64_t probe_lease_ms;
    double ewma_alpha;
} th_breaker_config;

typedef struct th_route {
    uint8_t providers_len;
    uint8_t tokens_estimate_exact; /* 0: tokens_estimated is an upper bound (bytes + reserved),
                                      returned when no exact estimate could change the chain */
    uint16_t reserved;
    uint32_t reason; /* index: th_reason_name() names it */
    uint64_t tokens_estimated;
    uint8_t providers[TH_PROVIDERS_MAX];
    th_detection detection;
} th_route;

typedef struct th_provider_stats {
    uint64_t calls_total;
    uint64_t calls_successful;
    uint64_t calls_failed;
    uint64_t calls_client_error;
    uint64_t tokens_input;
    uint64_t tokens_output;
    uint64_t open_until_ms;
    double cost_usd;
    double success_rate;
    double latency_ms_average;
    double latency_ms_ewma;
    double latency_ms_p50;
    double latency_ms_p95;
    double latency_ms_p99;
    uint32_t failures_consecutive;
    uint32_t state;             /* 0 closed, 1 open, 2 half_open */
    int32_t last_failure_kind;  /* -1 none */
    uint8_t healthy;
    uint8_t available;
    uint8_t reserved[2];
} th_provider_stats;

/* Versions and names. */
uint32_t th_abi_version(void);
const char *th_version(void);
/* x86-64 levels (0 baseline, 3 x86-64-v3): the machine's, and the one this build targets. A
   binding that ships both builds loads the baseline one, asks it th_cpu_level(), and loads the
   x86-64-v3 one where that is 3. */
uint32_t th_cpu_level(void);
uint32_t th_cpu_level_built(void);
uint32_t th_provider_count(void);
const char *th_provider_name(uint32_t provider);
const char *th_provider_key_variable(uint32_t provider, uint32_t position); /* NULL past the end */
const char *th_provider_model_variable(uint32_t provider);
const char *th_provider_base_url_variable(uint32_t provider);
uint32_t th_language_count(void);
const char *th_language_code(uint32_t language);
const char *th_script_name(uint32_t script);
uint32_t th_strategy_count(void);
const char *th_strategy_name(uint32_t strategy);
uint32_t th_reason_count(void);
const char *th_reason_name(uint32_t reason);
const char *th_state_name(uint32_t state);
const char *th_failure_kind_name(uint32_t kind);

/* Text features: pure functions, no allocation. */
th_status th_detect_language(const uint8_t *text, size_t text_len, th_detection *out);
uint64_t th_estimate_tokens(const uint8_t *text, size_t text_len);
/* th_detect_language in one integer below 2^30, for bindings where marshalling dominates:
   bits 0-4 language (31: bad argument), 5-28 confidence * (2^24 - 1). */
uint32_t th_detect_language_packed(const uint8_t *text, size_t text_len);
/* th_detect_language_packed of a NUL-terminated text (the text ends at its first NUL). */
uint32_t th_detect_language_text(const char *text);
/* The monotonic clock the breaker runs on; bindings use it so both sides agree. */
uint64_t th_monotonic_ms(void);
/* Writes key[:8]*** (at most TH_KEY_MASK_BYTES_MAX bytes, not NUL-terminated). */
th_status th_mask_key(const uint8_t *key, size_t key_len, uint8_t *out, size_t out_capacity, size_t *out_len);

/* The node. */
th_status th_node_create(th_node **out);
void th_node_destroy(th_node *node);
th_status th_node_set_available(th_node *node, uint32_t provider, uint8_t available, const uint8_t *key, size_t key_len);
th_status th_node_set_preferred_provider(th_node *node, int32_t provider);
th_status th_node_set_strategy_default(th_node *node, uint32_t strategy);
th_status th_node_set_long_context_threshold(th_node *node, uint64_t threshold_tokens);
th_status th_node_set_seed(th_node *node, uint64_t seed);
th_status th_node_configure_breaker(th_node *node, const th_breaker_config *config);
th_status th_node_get_breaker_config(th_node *node, th_breaker_config *out);
th_status th_node_get_provider(th_node *node, uint32_t provider, th_provider_info *out);
th_status th_node_set_provider(th_node *node, uint32_t provider, const th_provider_info *info);

/* Routes one prompt. force_provider: TH_PROVIDER_NONE or a provider index; strategy: a strategy
 * index or TH_STRATEGY_NODE_DEFAULT; tokens_reserved_output: the answer's max_tokens (the window
 * must hold prompt and answer). Scalar arguments keep the call cheap from Python. */
th_status th_node_route(th_node *node, const uint8_t *text, size_t text_len, uint64_t now_ms,
                        uint64_t tokens_reserved_output, int32_t force_provider, uint32_t strategy,
                        uint8_t quality, th_route *out);
/* th_node_route in one word. options: bits 0-31 output tokens to reserve, 32-39 forced provider + 1
   (0: none), 40-47 strategy + 1 (0: the node's default), 48 quality; now_ms UINT64_MAX reads
   th_monotonic_ms. Result: bits 0-3 chain length (15: error, status in bits 32-63), 4-7 reason,
   8-15 zero, then 4 bits per provider from bit 16. The chain is th_node_route's; the language is
   not named (only whether the text is CJK, from its scripts), so this skips the n-gram scoring. */
uint64_t th_node_route_packed(th_node *node, const uint8_t *text, size_t text_len, uint64_t options, uint64_t now_ms);
/* th_node_route_packed with options 0 and now_ms UINT64_MAX (fewer arguments: cheaper through an FFI). */
uint64_t th_node_route_default(th_node *node, const uint8_t *text, size_t text_len);
/* th_node_route_default of a NUL-terminated text (no NUL inside it): two arguments. */
uint64_t th_node_route_text(th_node *node, const char *text);
th_status th_node_admit(th_node *node, uint32_t provider, uint64_t now_ms, uint32_t *admission_out);
th_status th_node_record_success(th_node *node, uint32_t provider, uint64_t now_ms, uint32_t latency_ms,
                                 uint64_t tokens_input, uint64_t tokens_output, double *cost_usd_out);
/* th_node_record_success with the cost the caller priced (prompt caching bills cached tokens at
   their own prices); a cost that is negative or not finite is TH_ERROR_INVALID_ARGUMENT. */
th_status th_node_record_success_priced(th_node *node, uint32_t provider, uint64_t now_ms, uint32_t latency_ms,
                                        uint64_t tokens_input, uint64_t tokens_output, double cost_usd);
th_status th_node_record_failure(th_node *node, uint32_t provider, uint64_t now_ms, uint32_t kind,
                                 uint32_t latency_ms, uint64_t retry_after_ms);
th_status th_node_stats(th_node *node, uint32_t provider, uint64_t now_ms, th_provider_stats *out);
th_status th_node_reset(th_node *node, uint32_t provider);
/* Writes the status JSON. TH_ERROR_BUFFER_TOO_SMALL sets *out_len to the size needed. */
th_status th_node_status_json(th_node *node, uint64_t now_ms, uint8_t *out, size_t out_capacity, size_t *out_len);

/* Shared state (ABI 3): another replica's breaker events, applied here. until_ms is on this
 * process's monotonic clock and must be > 0; an earlier deadline than the one set never shortens
 * the hold. Nothing is counted as a call. */
th_status th_node_open_until(th_node *node, uint32_t provider, uint64_t until_ms);
th_status th_node_close_breaker(th_node *node, uint32_t provider);
th_status th_node_release_probe(th_node *node, uint32_t provider);

/* cdef-end */

#ifdef __cplusplus
}
#endif

#endif /* TRINITY_HYBRID_H */
