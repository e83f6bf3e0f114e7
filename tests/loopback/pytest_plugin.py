"""Pytest fixtures: one fresh loopback server per test, closed after it.

Enable them for a whole suite with one line in `tests/conftest.py`:

    pytest_plugins = ["loopback.pytest_plugin"]

(`tests/` is on `sys.path`, so `loopback` imports as a top-level package.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._anthropic import AnthropicServer
from ._cohere import CohereServer
from ._gemini import GeminiServer
from ._openai import OpenAIServer


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicServer]:
    with AnthropicServer() as server:
        yield server


@pytest.fixture
def gemini_server() -> Iterator[GeminiServer]:
    with GeminiServer() as server:
        yield server


@pytest.fixture
def cohere_server() -> Iterator[CohereServer]:
    with CohereServer() as server:
        yield server
