"""The environment of a machine where nothing configures trinity-hybrid, for the tests that run
a command or a snippet in a process of its own, as a user would."""

from __future__ import annotations

import os
import re

# A provider's key, URL or model, the router's settings, the local model's file or server, and
# rich's width when output is not a terminal (80 unless COLUMNS says otherwise).
_CONFIGURING = re.compile(r"_API_KEY$|_BASE_URL$|_MODEL$|^TRINITY_|^DEFAULT_LLM_PROVIDER$|^LOCAL_|^COLUMNS$")


def keyless_environment() -> dict[str, str]:
    """This process's environment without anything that configures a provider, the router or
    the local model."""
    return {name: value for name, value in os.environ.items() if not _CONFIGURING.search(name)}
