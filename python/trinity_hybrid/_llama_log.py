"""llama.cpp's own log lines, sent to Python's logging at the level llama.cpp gave them.

llama-cpp-python 0.3.16 reads ggml's log levels by an older numbering: its WARN (3) is taken for an
error and printed to stderr even with ``verbose=False``, and its ERROR (4) for debug output and
dropped. So loading the local model with the window it is given (4,096 tokens, less than the
8,192 SmolLM2 was trained on) printed "n_ctx_per_seq (4096) < n_ctx_train (8192) -- the full
capacity of the model will not be utilized" into every program's output. Here each line goes to
the ``trinity_hybrid.llama_cpp`` logger instead: llama.cpp's errors as errors, and everything else,
its warnings included (about choices the router made on purpose), as debug lines.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

__all__ = ["LOGGER_NAME", "route_llama_logs"]

LOGGER_NAME = "trinity_hybrid.llama_cpp"
_logger = logging.getLogger(LOGGER_NAME)

# ggml.h, enum ggml_log_level, as llama-cpp-python 0.3.16 vendors it.
_GGML_LEVEL_ERROR = 4
_GGML_LEVEL_CONTINUE = 5  # the rest of the previous message

_lock = threading.Lock()
_callback: Any = None  # ctypes must keep the function object alive while llama.cpp holds it
_level_last = logging.DEBUG


def _python_level(ggml_level: int) -> int:
    global _level_last
    if ggml_level != _GGML_LEVEL_CONTINUE:
        _level_last = logging.ERROR if ggml_level == _GGML_LEVEL_ERROR else logging.DEBUG
    return _level_last


def _log(ggml_level: int, text: bytes | None, _user_data: object) -> None:
    level = _python_level(ggml_level)
    line = (text or b"").decode("utf-8", "replace").rstrip("\n")
    if line and _logger.isEnabledFor(level):
        _logger.log(level, "%s", line)


def route_llama_logs() -> None:
    """Installs the callback in llama.cpp (once; later calls do nothing). Call it after
    ``import llama_cpp``, whose import installs llama-cpp-python's own callback."""
    global _callback
    import llama_cpp

    with _lock:
        if _callback is None:
            _callback = llama_cpp.llama_log_callback(_log)
            llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
