"""What a newcomer meets in the first hour (issue 19): a forced provider without a key says
which variable to set, ``ainfer``'s stream is read with ``async for`` as the README shows, every
bad configuration value names its variable whatever the command, and a provider with no call
yet has no success rate."""

from __future__ import annotations

import asyncio
import io

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st
from loopback import OpenAIServer
from trinity_hybrid import ConfigurationError, NoProviderAvailable, TrinityHybridNode
from trinity_hybrid._cli import main


def test_a_forced_provider_without_a_key_says_which_variable_to_set(openai_server: OpenAIServer) -> None:
    node = TrinityHybridNode.from_env(
        {"OPENAI_API_KEY": openai_server.api_key, "OPENAI_BASE_URL": openai_server.base_url}
    )
    with pytest.raises(NoProviderAvailable, match="set GROQ_API_KEY"):
        node.infer("Hello", force_provider="groq")
    with pytest.raises(NoProviderAvailable, match="KIMI_K2_API_KEY or MOONSHOT_API_KEY"):
        node.infer("Hello", force_provider="kimi")
    assert openai_server.requests == []  # nothing was sent keyless
    assert node.infer("Hello", force_provider="openai").provider == "openai"


def test_route_force_without_a_key_says_which_variable_to_set() -> None:
    result = CliRunner().invoke(main, ["route", "--force", "groq", "hello"], env={"GROQ_API_KEY": ""})
    assert result.exit_code == 1
    assert "set GROQ_API_KEY" in result.stderr
    forced = CliRunner().invoke(main, ["route", "--force", "groq", "hello"], env={"GROQ_API_KEY": "gsk_0123456789"})
    assert forced.exit_code == 0, forced.output
    assert "groq" in forced.stdout


def test_ainfer_streams_with_async_for_directly(openai_server: OpenAIServer) -> None:
    environment = {"GROQ_API_KEY": openai_server.api_key, "GROQ_BASE_URL": openai_server.base_url}

    async def read() -> tuple[str, str]:
        node = TrinityHybridNode.from_env(environment)
        try:
            direct = [chunk async for chunk in node.ainfer("Say hi", stream=True, force_provider="groq")]
            awaited = [chunk async for chunk in await node.ainfer("Say hi", stream=True, force_provider="groq")]
        finally:
            await node.aclose()
        assert direct[-1].done and awaited[-1].done
        return "".join(chunk.text for chunk in direct), "".join(chunk.text for chunk in awaited)

    direct, awaited = asyncio.run(read())
    assert direct == awaited == "echo: Say hi"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRINITY_CACHE_TTL_S", "-5"),
        ("TRINITY_CACHE_TTL_S", "soon"),
        ("TRINITY_CACHE_ENTRIES_MAX", "0"),
        ("TRINITY_MAX_BODY_BYTES", "abc"),
        ("TRINITY_RETRIES", "-1"),
        ("TRINITY_CACHE", "disk"),
        ("TRINITY_STRATEGY", "fastest"),
        ("DEFAULT_LLM_PROVIDER", "gpt"),
        ("GROQ_BASE_URL", "api.groq.com"),
    ],
)
def test_a_bad_value_names_its_variable_whatever_the_command(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{variable}='{value}'"):
        TrinityHybridNode.from_env({variable: value})
    # `route` reads the whole environment too: a gateway variable's typo shows before `serve`.
    result = CliRunner().invoke(main, ["route", "hello"], env={variable: value})
    assert result.exit_code == 1
    assert f"{variable}='{value}'" in result.stderr
    assert "Traceback" not in result.output


NUMERIC_VARIABLES = ("TRINITY_CACHE_TTL_S", "TRINITY_CACHE_ENTRIES_MAX", "TRINITY_MAX_BODY_BYTES")


@given(variable=st.sampled_from(NUMERIC_VARIABLES), value=st.text(max_size=12))
@example(variable="TRINITY_CACHE_TTL_S", value="1E10")  # past the cache's own limit: once refused unnamed
def test_any_value_is_taken_or_refused_by_name(variable: str, value: str) -> None:
    try:
        TrinityHybridNode.from_env({variable: value, "TRINITY_CACHE": "memory"})
    except ConfigurationError as error:
        assert str(error).startswith(f"{variable}=")
    else:  # what was taken is blank (the default) or a positive number
        assert value.strip() == "" or float(value.strip()) > 0


def test_no_success_rate_before_the_first_call() -> None:
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": "gsk_0123456789abcdef"})
    assert node.stats("groq").success_rate is None
    assert node.status()["providers"]["groq"]["success_rate"] is None
    shown = io.StringIO()
    node.print_status(shown)
    groq_row = next(line for line in shown.getvalue().splitlines() if line.startswith("groq"))
    assert "100" not in groq_row
    node.record_success("groq", latency_ms=10)
    assert node.stats("groq").success_rate == 1.0
