"""The native library's file names: per operating system, and for the second build that an x86-64
package carries (x86-64-v3).

Standalone on purpose (no package imports), like ``_cdef.py``: the wheel's build hook loads this
file by path, so the names it writes into the package are the names the loader looks for.
"""

from __future__ import annotations

LIBRARY_NAMES = {"linux": "libtrinity_hybrid.so", "macos": "libtrinity_hybrid.dylib", "windows": "trinity_hybrid.dll"}
# The CPU of the second x86-64 build, as Zig's -Dcpu names it.
X86_64_V3 = "x86_64_v3"


def library_file_name(system: str) -> str:
    """The name Zig gives the library on ``system``: ``linux``, ``macos`` or ``windows``."""
    return LIBRARY_NAMES[system]


def variant_file_name(name: str, cpu: str = X86_64_V3) -> str:
    """``libtrinity_hybrid.so`` -> ``libtrinity_hybrid-x86_64_v3.so``."""
    stem, dot, extension = name.partition(".")
    return f"{stem}-{cpu}{dot}{extension}"
