"""Server processes for the gateway benchmark: started in a process group of their own, waited
for until they answer a real request, and killed with their whole group on the way out, error or
not; the memory of a process tree from /proc; and the canned upstream that nginx serves.

Nothing here leaves a daemon behind: every process is a child of the benchmark, nginx included
(`daemon off`, its prefix, pid file and logs in a temporary directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

# The upstream's one answer: an OpenAI chat completion as the API returns it.
CANNED_CONTENT = "Hello from the upstream of the benchmark."
CANNED_COMPLETION = {
    "id": "chatcmpl-bench0001",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": CANNED_CONTENT, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    "system_fingerprint": "fp_bench",
}
# The key the servers send upstream (nginx ignores it), and the one clients send to the servers:
# LiteLLM and ours check it as a deployed gateway would; the pass-through forwards it unread.
UPSTREAM_API_KEY = "sk-bench-upstream-0000000000000000"
GATEWAY_API_KEY = "sk-bench-gateway-00000000000000000"

STOP_GRACE_S = 10.0


class ServerError(RuntimeError):
    """A server did not start, or did not answer a chat completion correctly."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def nginx_config(directory: Path, port: int) -> Path:
    """An nginx.conf under ``directory`` that answers `POST /v1/chat/completions` with the canned
    completion: one worker (the machine has two cores, shared with wrk and the server under test),
    no access log, keep-alive connections that are never closed by request count."""
    body = json.dumps(CANNED_COMPLETION, separators=(",", ":"))
    assert "'" not in body and "$" not in body, "nginx would need escaping"
    for name in ("logs", "temp"):
        (directory / name).mkdir(exist_ok=True)
    temp = directory / "temp"
    config = f"""
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        location = /v1/chat/completions {{
            default_type application/json;
            return 200 '{body}';
        }}
        location = /health {{
            return 200 'ok';
        }}
    }}
}}
"""
    path = directory / "nginx.conf"
    path.write_text(config, encoding="utf-8")
    return path


def nginx_command(directory: Path, port: int) -> list[str]:
    config = nginx_config(directory, port)
    return ["nginx", "-p", str(directory), "-c", str(config), "-e", str(directory / "logs" / "error.log"),
            "-g", "daemon off;"]  # fmt: skip


def chat_completion(url: str, body: Mapping[str, object], timeout_s: float) -> dict[str, object]:
    """POST ``body`` to ``url`` as a client of the gateways and return the decoded answer; raises
    on any status but 200."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {GATEWAY_API_KEY}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


def answer_content(answer: Mapping[str, object]) -> object:
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    return message.get("content") if isinstance(message, dict) else None


class Server:
    """A command run in its own process group (so that its workers die with it), with its output
    in a log file; `ready` waits until a chat completion through it returns the canned answer."""

    def __init__(self, name: str, command: Sequence[str], environment: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.command = list(command)
        self.environment = dict(environment)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                self.command,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def ready(self, url: str, body: Mapping[str, object], timeout_s: float) -> None:
        """Wait until POSTing ``body`` to ``url`` answers with the canned content."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                content = answer_content(chat_completion(url, body, timeout_s=10.0))
            except urllib.error.HTTPError as error:
                last_error = f"HTTP {error.code}: {error.read()[:500]!r}"
            except (OSError, ValueError) as error:
                last_error = repr(error)
            else:
                if content == CANNED_CONTENT:
                    return
                last_error = f"unexpected content {content!r}"
            time.sleep(0.25)
        raise ServerError(f"{self.name} not ready after {timeout_s:.0f} s ({last_error}):\n{self.log_tail()}")

    def rss_bytes(self) -> int:
        assert self.process is not None
        return tree_rss_bytes(self.process.pid)

    def stop(self) -> None:
        """SIGTERM to the whole group, then SIGKILL to what is left after a grace period."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        # Workers may outlive their parent; the group still names them.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_GRACE_S)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name (field 2) may hold spaces and parentheses; the fields after its last ')' do not.
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def tree_pids(root: int) -> list[int]:
    children = _children()
    pids, pending = [], [root]
    while pending:
        pid = pending.pop()
        pids.append(pid)
        pending.extend(children.get(pid, []))
    return pids


def tree_rss_bytes(root: int) -> int:
    """The sum of VmRSS over ``root`` and all its descendants (Linux /proc)."""
    total_kib = 0
    for pid in tree_pids(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
                break
    return total_kib * 1024


def tree_open_fds(root: int) -> int:
    """The open file descriptors of ``root`` and all its descendants (Linux /proc)."""
    total = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError):  # gone meanwhile
            total += len(os.listdir(f"/proc/{pid}/fd"))
    return total
