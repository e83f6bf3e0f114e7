"""llama.cpp's log lines go to Python's logging at the level llama.cpp gave them: its errors as
errors, the rest (its warning that the local model's window is smaller than its training
window among them) as debug lines, none printed on their own."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys

import pytest
from trinity_hybrid import _llama_log

# ggml.h's levels, as llama-cpp-python 0.3.16 vendors them.
GGML_DEBUG, GGML_INFO, GGML_WARN, GGML_ERROR, GGML_CONTINUE = 1, 2, 3, 4, 5


@pytest.mark.parametrize(
    ("ggml_level", "python_level"),
    [(GGML_DEBUG, logging.DEBUG), (GGML_INFO, logging.DEBUG), (GGML_WARN, logging.DEBUG), (GGML_ERROR, logging.ERROR)],
)
def test_levels(ggml_level: int, python_level: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=_llama_log.LOGGER_NAME)
    _llama_log._log(ggml_level, b"a line from llama.cpp\n", None)
    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (python_level, "a line from llama.cpp")
    ]


def test_a_continued_message_keeps_the_level_of_its_start(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=_llama_log.LOGGER_NAME)
    _llama_log._log(GGML_ERROR, b"failed to load: ", None)
    _llama_log._log(GGML_CONTINUE, b"bad magic\n", None)
    _llama_log._log(GGML_WARN, b"a warning", None)
    _llama_log._log(GGML_CONTINUE, b" continued", None)
    assert [record.levelno for record in caplog.records] == [logging.ERROR, logging.ERROR, logging.DEBUG, logging.DEBUG]


def test_empty_and_undecodable_text_is_handled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=_llama_log.LOGGER_NAME)
    _llama_log._log(GGML_WARN, None, None)
    _llama_log._log(GGML_WARN, b"\n", None)
    _llama_log._log(GGML_ERROR, b"\xff\xfe bytes\n", None)
    assert [record.getMessage() for record in caplog.records] == ["\ufffd\ufffd bytes"]


LOAD_THE_MODEL = """
import logging, sys
if sys.argv[1] == "debug":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s")
from trinity_hybrid._llama_log import route_llama_logs
from trinity_hybrid._local import LocalModel
import llama_cpp
route_llama_logs()
LocalModel(context_tokens=4096)._loaded()
print("loaded")
"""


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None and not os.environ.get("CI"),
    reason="the [local] extra is not installed",
)
def test_loading_the_local_model_prints_nothing_and_logs_the_warning_at_debug() -> None:
    def load(mode: str) -> subprocess.CompletedProcess[str]:
        environment = {name: value for name, value in os.environ.items() if name != "LOCAL_MODEL_PATH"}
        return subprocess.run([sys.executable, "-c", LOAD_THE_MODEL, mode], check=False, env=environment,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    quiet = load("quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "loaded\n" and quiet.stderr == ""
    # Not dropped: with logging at debug the warning is there, from our logger.
    debug = load("debug")
    assert debug.returncode == 0, debug.stderr
    assert "trinity_hybrid.llama_cpp DEBUG llama_context: n_ctx_per_seq (4096) < n_ctx_train (8192)" in debug.stdout
    assert "n_ctx" not in debug.stderr
