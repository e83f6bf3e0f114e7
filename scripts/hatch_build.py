"""Hatchling build hook: compiles the Zig core with the `ziglang` package and puts the shared
library and its header inside the package, then tags the wheel `py3-none-<platform>`.

The library talks to Python through cffi in ABI mode, so it does not depend on any CPython
version: one wheel per platform serves every Python 3. `TRINITY_HYBRID_TARGET` (a Zig target
triple such as `aarch64-linux-musl`) cross-compiles; `scripts/build_wheels.py` uses it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Zig target → wheel platform tag. The Linux library links no libc at all (Zig talks to the
# kernel directly), so one file is valid for both glibc (manylinux) and musl (musllinux).
PLATFORM_TAGS = {
    "x86_64-linux-musl": "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64",
    "aarch64-linux-musl": "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64",
    "x86_64-macos": "macosx_10_13_x86_64",
    "aarch64-macos": "macosx_11_0_arm64",
    "x86_64-windows-gnu": "win_amd64",
}

def native_target() -> str | None:
    """The Zig target of this machine, when it is one we tag wheels for."""
    machine = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(
        (os.uname().machine if hasattr(os, "uname") else os.environ.get("PROCESSOR_ARCHITECTURE", "")).lower()
    )
    if machine is None:
        return None
    if sys.platform.startswith("linux"):
        return f"{machine}-linux-musl"
    if sys.platform == "darwin":
        return f"{machine}-macos"
    if sys.platform == "win32" and machine == "x86_64":
        return "x86_64-windows-gnu"
    return None


def standalone_module(root: Path, name: str) -> Any:
    """A standalone module of the package (``_cdef``, ``_library_files``), loaded by path: the
    package itself is not importable while it is being built."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"trinity_hybrid_{name}", root / "python" / "trinity_hybrid" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def library_name(root: Path, target: str | None) -> str:
    """The file name Zig gives the shared library for `target` (this machine when None)."""
    system = target or {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")
    files = standalone_module(root, "_library_files")
    if "windows" in system:
        return files.library_file_name("windows")  # type: ignore[no-any-return]
    if "macos" in system:
        return files.library_file_name("macos")  # type: ignore[no-any-return]
    return files.library_file_name("linux")  # type: ignore[no-any-return]


def build_library(root: Path, target: str | None, prefix: Path, cpu: str | None = None) -> Path:
    command = [sys.executable, "-m", "ziglang", "build", "-Doptimize=ReleaseFast", "--prefix", str(prefix)]
    if target is not None:
        command.append(f"-Dtarget={target}")
    if cpu is not None:
        command.append(f"-Dcpu={cpu}")
    subprocess.run(command, cwd=root, check=True)
    name = library_name(root, target)
    directory = "bin" if name.endswith(".dll") else "lib"
    library = prefix / directory / name
    if not library.is_file():
        raise RuntimeError(f"zig build did not produce {library}")
    return library


def is_x86_64(target: str | None) -> bool:
    return (target or "").startswith("x86_64")


def write_ffi_module(root: Path, header: Path, directory: Path) -> Path:
    """The pre-parsed cffi declarations (see python/trinity_hybrid/_cdef.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    return standalone_module(root, "_cdef").write_ffi_module(header, directory)  # type: ignore[no-any-return]


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        target = os.environ.get("TRINITY_HYBRID_TARGET") or native_target()
        prefix = root / "zig-out" / (target or "native")
        # (built library, its name in the package)
        libraries = [(library := build_library(root, target, prefix), library.name)]
        if is_x86_64(target):
            # The second build of an x86-64 wheel: the loader (python/trinity_hybrid/_native.py)
            # asks the baseline library whether the machine runs x86-64-v3 and then loads this
            # one, whose vector paths go 32 bytes at a time (AVX2): held-out detection from
            # Python took 9 % fewer instructions and about 0.4 us less per sentence here.
            files = standalone_module(root, "_library_files")
            variant = build_library(root, target, prefix / files.X86_64_V3, files.X86_64_V3)
            libraries.append((variant, files.variant_file_name(variant.name)))
        header = root / "include" / "trinity_hybrid.h"
        if version == "editable":
            # An editable install imports python/ in place, so the library must sit there.
            package_lib = root / "python" / "trinity_hybrid" / "_lib"
            package_lib.mkdir(parents=True, exist_ok=True)
            for built, name in libraries:
                shutil.copy2(built, package_lib / name)
            shutil.copy2(header, package_lib / header.name)
            write_ffi_module(root, header, package_lib)
        else:
            # Staged per target under zig-out/, never in the source tree, so concurrent builds
            # for different targets cannot package each other's library.
            for built, name in libraries:
                build_data["force_include"][str(built)] = f"trinity_hybrid/_lib/{name}"
            build_data["force_include"][str(header)] = f"trinity_hybrid/_lib/{header.name}"
            ffi_module = write_ffi_module(root, header, prefix / "python")
            build_data["force_include"][str(ffi_module)] = f"trinity_hybrid/_lib/{ffi_module.name}"
        build_data["pure_python"] = False
        platform_tag = PLATFORM_TAGS.get(target or "") or sysconfig.get_platform().replace("-", "_").replace(".", "_")
        build_data["tag"] = f"py3-none-{platform_tag}"
