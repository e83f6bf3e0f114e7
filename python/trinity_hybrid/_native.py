"""Loads the native core (the Zig shared library) with cffi in ABI mode.

The library ships inside the package under ``_lib/``, on x86-64 as two builds (baseline and
x86-64-v3, chosen by the CPU); ``TRINITY_HYBRID_LIBRARY`` may point at another build during
development. The C declarations exist in one place, the header that ships
beside the library: an installed package also carries them pre-parsed beside it (``_cdef.py``
explains why); a development build has them parsed from the header's ``cdef-begin`` /
``cdef-end`` section. A missing library or an ABI mismatch raises ``NativeLibraryError`` with
what to do about it.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _library_files
from ._cdef import FFI_MODULE_NAME, cdef_text
from ._exceptions import NativeLibraryError

if TYPE_CHECKING:
    from cffi import FFI

ABI_VERSION = 9
_PACKAGE_DIRECTORY = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE_DIRECTORY.parent.parent


def library_file_name() -> str:
    """The shared library's file name on this platform, as Zig names it."""
    return _library_files.library_file_name({"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux"))


def _library_candidates() -> list[Path]:
    override = os.environ.get("TRINITY_HYBRID_LIBRARY")
    if override:
        return [Path(override)]
    name = library_file_name()
    return [
        _PACKAGE_DIRECTORY / "_lib" / name,
        # A source checkout after `python -m ziglang build`.
        _SOURCE_ROOT / "zig-out" / ("bin" if sys.platform == "win32" else "lib") / name,
    ]


def _header_candidates(library_path: Path) -> list[Path]:
    # The header that was installed with the library comes first: the two must match.
    return [
        library_path.parent / "trinity_hybrid.h",
        library_path.parent.parent / "include" / "trinity_hybrid.h",
        _PACKAGE_DIRECTORY / "_lib" / "trinity_hybrid.h",
        _SOURCE_ROOT / "include" / "trinity_hybrid.h",
    ]


def _read_cdef(library_path: Path) -> str:
    for candidate in _header_candidates(library_path):
        if candidate.is_file():
            return cdef_text(candidate.read_text(encoding="utf-8"))
    raise NativeLibraryError(
        "trinity_hybrid.h was not found beside the native library; reinstall the package "
        "(pip install --force-reinstall trinity-hybrid)"
    )


# An x86-64 package carries a second build for x86-64-v3 (AVX2 and friends) beside the
# baseline one; the baseline build tells whether this machine may run it (th_cpu_level).
# TRINITY_HYBRID_CPU=baseline keeps the baseline build (the tests compare the two that way).
CPU_LEVEL_X86_64_V3 = 3
CPU_VARIABLE = "TRINITY_HYBRID_CPU"
CPU_CHOICES = ("auto", "baseline")
variant_file_name = _library_files.variant_file_name


_lock = threading.Lock()
_loaded: tuple[FFI, Any] | None = None
_loaded_path: Path | None = None


def loaded_library_path() -> Path:
    """The file of the native library in use (loading it if need be)."""
    load()
    assert _loaded_path is not None
    return _loaded_path


def load() -> tuple[FFI, Any]:
    """The (ffi, lib) pair, loaded once per process."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            _loaded = _load_uncached()
    return _loaded


def _load_uncached() -> tuple[FFI, Any]:
    global _loaded_path
    cpu = os.environ.get(CPU_VARIABLE) or "auto"
    if cpu not in CPU_CHOICES:
        raise NativeLibraryError(f"{CPU_VARIABLE} must be one of {', '.join(CPU_CHOICES)}, not {cpu!r}")
    candidates = _library_candidates()
    library_path = next((path for path in candidates if path.is_file()), None)
    if library_path is None:
        searched = ", ".join(str(path) for path in candidates)
        raise NativeLibraryError(
            f"the trinity_hybrid native library was not found (searched: {searched}); "
            "install the wheel for your platform, or build it with "
            "`python -m ziglang build -Doptimize=ReleaseFast` and set TRINITY_HYBRID_LIBRARY"
        )
    ffi = _ffi_for(library_path)
    lib = _open(ffi, library_path)
    variant = library_path.with_name(variant_file_name(library_path.name))
    if cpu == "auto" and variant.is_file() and int(lib.th_cpu_level()) >= CPU_LEVEL_X86_64_V3:
        # The baseline library stays mapped but unused: unloading is not portable.
        lib = _open(ffi, variant)
        library_path = variant
    _loaded_path = library_path
    return ffi, lib


def _open(ffi: FFI, library_path: Path) -> Any:
    try:
        lib = ffi.dlopen(str(library_path))
    except OSError as error:
        raise NativeLibraryError(f"cannot load {library_path}: {error}") from None
    try:
        found = int(lib.th_abi_version())
    except AttributeError:
        raise NativeLibraryError(f"{library_path} is not a trinity_hybrid library") from None
    if found != ABI_VERSION or int(lib.TH_ABI_VERSION) != ABI_VERSION:
        raise NativeLibraryError(
            f"{library_path} has ABI version {found}, this package needs {ABI_VERSION}; "
            "rebuild the library or reinstall the package"
        )
    return lib


def _ffi_for(library_path: Path) -> FFI:
    """The declarations for ``library_path``: pre-parsed when installed beside it, else parsed
    from its header (slower: pycparser runs)."""
    precompiled = library_path.parent / f"{FFI_MODULE_NAME}.py"
    if precompiled.is_file():
        import importlib.util

        spec = importlib.util.spec_from_file_location(f"trinity_hybrid._lib.{FFI_MODULE_NAME}", precompiled)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.ffi
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(_read_cdef(library_path))
    return ffi


def names(function_name: str, count: int | None = None) -> tuple[str, ...]:
    """Reads an enumeration's names from the library (``th_provider_name`` and friends)."""
    ffi, lib = load()
    function = getattr(lib, function_name)
    result: list[str] = []
    index = 0
    while count is None or index < count:
        pointer = function(index)
        if pointer == ffi.NULL:
            break
        result.append(ffi.string(pointer).decode("ascii"))
        index += 1
    return tuple(result)


STATUS_MESSAGES = {
    1: "invalid argument",
    2: "out of memory",
    3: "unknown provider",
    4: "buffer too small",
    5: "invalid configuration",
}


def check(status: int, what: str) -> None:
    """Turns a non-zero ``th_status`` into the matching exception."""
    if status == 0:
        return
    from ._exceptions import ConfigurationError, InvalidInputError

    message = f"{what}: {STATUS_MESSAGES.get(status, f'status {status}')}"
    if status == 5:
        raise ConfigurationError(message)
    if status == 2:
        raise MemoryError(message)
    raise InvalidInputError(message)
