"""The C declarations cffi needs, cut from the header between its ``cdef-begin`` and
``cdef-end`` markers, and their pre-parsed form.

Standalone on purpose (no package imports): the wheel's build hook loads this file by path to
write ``_ffi_abi.py`` beside the library, cffi's "out-of-line ABI mode" module, which holds the
declarations already parsed. Loading it needs no C compiler and, unlike ``FFI.cdef``, no
pycparser: about 60 ms less on the first call into the core.
"""

from __future__ import annotations

from pathlib import Path

FFI_MODULE_NAME = "_ffi_abi"


def cdef_text(header_text: str) -> str:
    """The declarations between the header's markers. Raises ValueError if they are missing."""
    begin = header_text.index("cdef-begin")
    begin = header_text.index("*/", begin) + 2
    end = header_text.rindex("/* cdef-end */")
    return header_text[begin:end]


def write_ffi_module(header: Path, directory: Path) -> Path:
    """Writes the pre-parsed declarations of ``header`` as ``<directory>/_ffi_abi.py``."""
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(cdef_text(header.read_text(encoding="utf-8")))
    ffi.set_source(FFI_MODULE_NAME, None)
    destination = directory / f"{FFI_MODULE_NAME}.py"
    ffi.emit_python_code(str(destination))
    return destination
