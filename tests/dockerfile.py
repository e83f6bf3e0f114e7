"""A reader for Dockerfile.hybrid, so that tests/test_docker.py replays the Dockerfile's own steps
instead of a copy of them that could drift.

It understands what that file uses: comments and parser directives, `\\` continuations, `ARG`
before the first `FROM`, `FROM image AS name` stages, flags such as `--mount=...`, and the JSON
(exec) form of `CMD` and `HEALTHCHECK CMD`. It is no general Dockerfile parser.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_FLAG = re.compile(r"--([a-z-]+)=(\S+)\s+")


@dataclass
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    flags: dict[str, str]  # `--mount=type=bind,...` → {"mount": "type=bind,..."}
    arguments: str  # the rest of the line, continuations joined

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction (`CMD ["a", "b"]`)."""
        value = json.loads(self.arguments)
        assert isinstance(value, list) and all(isinstance(item, str) for item in value), self.arguments
        return value

    def words(self) -> list[str]:
        return shlex.split(self.arguments)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"stage {self.name}: expected one {keyword}, found {len(found)}"
        return found[0]

    def environment(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in instruction.words():
                name, _, value = word.partition("=")
                values[name] = value
        return values


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments may sit inside a continued instruction, too
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return lines


def parse(path: Path) -> list[Stage]:
    """The stages of the Dockerfile at ``path``, in order."""
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        while match := _FLAG.match(rest):
            flags[match.group(1)] = match.group(2)
            rest = rest[match.end() :]
        instruction = Instruction(keyword, flags, rest.strip())
        if keyword == "FROM":
            words = instruction.words()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=words[0]))
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            assert keyword == "ARG", f"{keyword} before the first FROM"
    return stages


def stage(stages: list[Stage], name: str) -> Stage:
    for candidate in stages:
        if candidate.name == name:
            return candidate
    raise AssertionError(f"no stage named {name!r}")
