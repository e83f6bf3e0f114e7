"""Builds one wheel per supported platform from this one machine, by Zig cross-compilation, and
checks that each wheel's library is of the right format and architecture.

    python scripts/build_wheels.py [--out wheelhouse] [--target x86_64-linux-musl ...]

The Linux library links no libc, so one wheel serves glibc (manylinux) and musl (musllinux).
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from hatch_build import PLATFORM_TAGS

# What the library's header must say, per target: (format, machine).
EXPECTED = {
    "x86_64-linux-musl": ("elf", "x86_64"),
    "aarch64-linux-musl": ("elf", "aarch64"),
    "x86_64-macos": ("macho", "x86_64"),
    "aarch64-macos": ("macho", "arm64"),
    "x86_64-windows-gnu": ("pe", "x86_64"),
}

ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
MACHO_CPUS = {0x01000007: "x86_64", 0x0100000C: "arm64"}
PE_MACHINES = {0x8664: "x86_64", 0xAA64: "aarch64"}


def library_format(data: bytes) -> tuple[str, str]:
    """(format, machine) read from a shared library's header."""
    if data[:4] == b"\x7fELF":
        if data[4] != 2:
            return ("elf32", "?")
        endian = "<" if data[5] == 1 else ">"
        (file_type,) = struct.unpack_from(endian + "H", data, 16)
        (machine,) = struct.unpack_from(endian + "H", data, 18)
        if file_type != 3:  # ET_DYN
            return ("elf-not-shared", ELF_MACHINES.get(machine, str(machine)))
        return ("elf", ELF_MACHINES.get(machine, str(machine)))
    if data[:4] == b"\xcf\xfa\xed\xfe":
        (cpu,) = struct.unpack_from("<I", data, 4)
        (file_type,) = struct.unpack_from("<I", data, 12)
        if file_type != 6:  # MH_DYLIB
            return ("macho-not-dylib", MACHO_CPUS.get(cpu, hex(cpu)))
        return ("macho", MACHO_CPUS.get(cpu, hex(cpu)))
    if data[:2] == b"MZ":
        (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
        if data[pe_offset : pe_offset + 4] != b"PE\0\0":
            return ("mz-without-pe", "?")
        (machine,) = struct.unpack_from("<H", data, pe_offset + 4)
        (characteristics,) = struct.unpack_from("<H", data, pe_offset + 22)
        if not characteristics & 0x2000:  # IMAGE_FILE_DLL
            return ("pe-not-dll", PE_MACHINES.get(machine, hex(machine)))
        return ("pe", PE_MACHINES.get(machine, hex(machine)))
    return ("unknown", "?")


def build_wheel(target: str, out: Path) -> Path:
    before = set(out.glob("*.whl"))
    environment = {**os.environ, "TRINITY_HYBRID_TARGET": target}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        env=environment,
        check=True,
    )
    tag = PLATFORM_TAGS[target]
    made = [path for path in set(out.glob("*.whl")) - before if tag in path.name] or [
        path for path in out.glob("*.whl") if path.name.endswith(f"py3-none-{tag}.whl")
    ]
    if not made:
        raise SystemExit(f"{target}: no wheel tagged {tag} in {out}")
    return made[0]


LIBRARY_SUFFIXES = (".so", ".dylib", ".dll")


def check_wheel(wheel: Path, target: str) -> str:
    """Checks the wheel's libraries (two on x86-64: baseline and x86-64-v3) and its header."""
    expected = EXPECTED[target]
    expected_count = 2 if target.startswith("x86_64") else 1
    with zipfile.ZipFile(wheel) as archive:
        libraries = [name for name in archive.namelist() if "/_lib/" in name and name.endswith(LIBRARY_SUFFIXES)]
        if len(libraries) != expected_count:
            raise SystemExit(f"{wheel.name}: expected {expected_count} libraries, found {libraries}")
        formats = {name: library_format(archive.read(name)) for name in libraries}
        headers = [name for name in archive.namelist() if name.endswith("trinity_hybrid.h")]
    for name, found in formats.items():
        if found != expected:
            raise SystemExit(f"{wheel.name}: {name} is {found}, expected {expected}")
    if not headers:
        raise SystemExit(f"{wheel.name}: the header is missing")
    return "; ".join(f"{wheel.name}: {name} is {found[0]} {found[1]}" for name, found in formats.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "wheelhouse")
    parser.add_argument("--target", action="append", choices=sorted(PLATFORM_TAGS), help="default: all")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    for target in options.target or sorted(PLATFORM_TAGS):
        wheel = build_wheel(target, options.out)
        print(check_wheel(wheel, target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
