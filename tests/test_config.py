"""TRINITY_CONFIG: a TOML file applied to the node, every bad key named in the error."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trinity_hybrid import ConfigurationError, TrinityHybridNode

GOOD = """
strategy = "lowest_cost"
default_provider = "anthropic"
long_context_threshold_tokens = 100000

[breaker]
failure_threshold = 5
cooldown_s = 30

[timeouts]
read_s = 12.5
first_token_s = 4

[providers.groq]
model = "llama-3.1-8b-instant"
base_url = "http://127.0.0.1:9/v1"
price_input_usd_per_mtok = 0.05

[providers.openai]
enabled = false
"""


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "trinity.toml"
    path.write_text(text, encoding="utf-8")
    return {"TRINITY_CONFIG": str(path), "GROQ_API_KEY": "g" * 20, "OPENAI_API_KEY": "o" * 20, "ANTHROPIC_API_KEY": "a" * 20}


def test_a_good_file_is_applied(tmp_path: Path) -> None:
    node = TrinityHybridNode.from_env(write(tmp_path, GOOD))
    assert node.provider_info("groq")["model"] == "llama-3.1-8b-instant"
    assert node.provider_info("groq")["price_input_usd_per_mtok"] == pytest.approx(0.05)
    assert node.base_urls["groq"] == "http://127.0.0.1:9/v1"
    assert "openai" not in node.available_providers
    assert node.route("Hello there").providers[0] == "anthropic"
    assert node.status()["strategy"] == "lowest_cost"
    assert node.timeouts.read_s == 12.5 and node.timeouts.first_token_s == 4
    for _ in range(4):
        node.record_failure("groq", "transient", now_ms=1)
    assert node.stats("groq", now_ms=1).state == "closed"  # threshold 5, not 3
    node.record_failure("groq", "transient", now_ms=1)
    assert node.stats("groq", now_ms=1).open_until_ms == 30_001


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    environment = write(tmp_path, GOOD) | {"GROQ_MODEL": "from-the-environment", "DEFAULT_LLM_PROVIDER": "groq"}
    node = TrinityHybridNode.from_env(environment)
    assert node.provider_info("groq")["model"] == "from-the-environment"
    assert node.route("Hello there").providers[0] == "groq"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('stratgy = "random"', "stratgy: unknown key"),
        ('strategy = "fastest-ever"', "fastest-ever"),
        ("[breaker]\nfailure_threshold = 0", "breaker.failure_threshold: must be a positive integer"),
        ("[breaker]\newma_alpha = 3", "breaker.ewma_alpha"),
        ('[timeouts]\nread_s = "soon"', "timeouts.read_s"),
        ('[providers.groq]\nmodle = "x"', "providers.groq.modle: unknown key"),
        ('[providers.nobody]\nmodel = "x"', "providers.nobody: unknown provider"),
        ("[providers.groq]\ncontext_window_tokens = -5", "providers.groq.context_window_tokens"),
        ('[providers.groq]\nbase_url = "ftp://x"', "providers.groq.base_url"),
        ("providers = 3", "providers: must be a table"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_files_name_the_bad_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match="TRINITY_CONFIG") as raised:
        TrinityHybridNode.from_env(write(tmp_path, text))
    assert named in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        TrinityHybridNode.from_env({"TRINITY_CONFIG": str(tmp_path / "absent.toml")})


toml_values = st.one_of(st.integers(-10, 10**7), st.floats(allow_nan=True), st.text(max_size=8), st.booleans())


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(["strategy", "default_provider", "long_context_threshold_tokens", "breaker.cooldown_s",
                         "breaker.failure_threshold", "timeouts.read_s", "providers.groq.model",
                         "providers.groq.priority", "providers.groq.speed_tokens_per_s", "providers.local.enabled"]),
    value=toml_values,
)
def test_any_value_is_accepted_or_named(tmp_path_factory: pytest.TempPathFactory, key: str, value: object) -> None:
    """Whatever a file holds, loading it either works or raises ConfigurationError naming the key."""
    *tables, leaf = key.split(".")
    rendered = repr(value).lower() if isinstance(value, bool) else (
        '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if isinstance(value, str) else
        ("nan" if math.isnan(value) else repr(value).replace("inf", "inf")))
    text = (f"[{'.'.join(tables)}]\n" if tables else "") + f"{leaf} = {rendered}\n"
    path = tmp_path_factory.mktemp("config") / "trinity.toml"
    path.write_text(text, encoding="utf-8")
    try:
        TrinityHybridNode.from_env({"TRINITY_CONFIG": str(path)})
    except ConfigurationError as error:
        assert leaf in str(error) or "TOML" in str(error) or "unknown" in str(error) or str(value) in str(error)


def test_the_cache_table_turns_the_cache_on(tmp_path: Path) -> None:
    node = TrinityHybridNode.from_env(write(tmp_path, '[cache]\nbackend = "memory"\nttl_s = 42\nentries_max = 7\ndefault = true\n'))
    assert node.cache is not None
    assert (node.cache.ttl_s, node.cache.entries_max, node.cache.default) == (42.0, 7, True)
    # Without `default`, only requests that ask use it; the variables override the file.
    environment = write(tmp_path, '[cache]\nbackend = "memory"\nttl_s = 42\n') | {"TRINITY_CACHE_TTL_S": "9"}
    node = TrinityHybridNode.from_env(environment)
    assert (node.cache.ttl_s, node.cache.default) == (9.0, False)
    off = write(tmp_path, '[cache]\nbackend = "memory"\n') | {"TRINITY_CACHE": "off"}
    assert TrinityHybridNode.from_env(off).cache is None
    assert TrinityHybridNode.from_env(write(tmp_path, '[cache]\nbackend = "off"\n')).cache is None


def test_a_redis_cache_without_shared_state_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs TRINITY_REDIS_URL"):
        TrinityHybridNode.from_env(write(tmp_path, '[cache]\nbackend = "redis"\n'))


def test_the_shared_state_table_connects_to_redis(tmp_path: Path) -> None:
    from redis_server import RedisServer, require_binary

    require_binary()
    with RedisServer() as server, RedisServer() as other:
        text = f'[shared_state]\nurl = "{server.url}"\nnamespace = "from-file"\n\n[cache]\nbackend = "redis"\n'
        node = TrinityHybridNode.from_env(write(tmp_path, text))
        try:
            status = node.shared_state()
            assert status is not None and status["url"].endswith(f":{server.port}/0")
            assert node._shared is not None and node._shared.namespace == "from-file"
            assert node.cache is not None
        finally:
            node.close_shared_state()
        # TRINITY_REDIS_URL wins over the file's URL; the file's other settings still apply.
        node = TrinityHybridNode.from_env(write(tmp_path, text) | {"TRINITY_REDIS_URL": other.url})
        try:
            status = node.shared_state()
            assert status is not None and status["url"].endswith(f":{other.port}/0")
        finally:
            node.close_shared_state()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[cache]\nbackend = "disk"\n', "cache.backend"),
        ("[cache]\nttl_s = -1\n", "cache.ttl_s"),
        ("[cache]\nsize = 3\n", "cache.size"),
        ('[shared_state]\nurl = "http://127.0.0.1:6379"\n', "shared_state.url"),
        ("[shared_state]\nop_timeout_s = 0\n", "shared_state.op_timeout_s"),
    ],
)
def test_bad_scaling_settings_are_named(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named.replace(".", r"\.")):
        TrinityHybridNode.from_env(write(tmp_path, text))
