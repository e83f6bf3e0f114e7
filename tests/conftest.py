"""Shared fixtures. The package under test is the installed one (wheel or editable)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

# CI runs a fixed set of examples so that a run is reproducible; developers' runs explore new
# ones each time (and keep what fails in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

import trinity_hybrid


@pytest.fixture
def node() -> trinity_hybrid.TrinityHybridNode:
    """A node with three remote providers and the local one available, keys made up."""
    created = trinity_hybrid.TrinityHybridNode.from_env(
        {
            "GROQ_API_KEY": "gsk_test_0123456789abcdef",
            "ZHIPU_API_KEY": "zhipu.test.0123456789abcdef",
            "ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdef",
        }
    )
    return created


# The reference model and loopback servers live beside the tests, not in the package.
import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))

pytest_plugins = ["loopback.pytest_plugin"]


# The two OpenAI-wire providers most gateway tests stand up: groq (first for English prompts)
# and an openai one behind it. A module that keeps one server for all its tests overrides
# ``groq`` with a module-scoped fixture of its own.
@pytest.fixture
def groq() -> Iterator[Any]:
    from loopback import OpenAIServer

    with OpenAIServer() as server:
        yield server


@pytest.fixture
def backup() -> Iterator[Any]:
    from loopback import OpenAIServer

    with OpenAIServer() as server:
        yield server
