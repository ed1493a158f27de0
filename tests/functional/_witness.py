"""A witness as a real process: ``absentia witness init``, ``add-log`` and ``serve``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.functional.test_cli import cli_env

ABSENTIA = Path(sys.executable).parent / "absentia"
TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def absentia(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False, env=cli_env())


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait until ``url`` answers 200 (or fail if ``proc`` exits)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"server exited: {err}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@dataclass
class WitnessProcess:
    """A witness in its own directory, served by a real ``absentia witness serve``."""

    directory: Path
    name: str
    port: int = field(default_factory=free_port)
    vkey: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.directory / "witness.toml"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def init(self) -> str:
        done = absentia("witness", "init", "--dir", self.directory, "--name", self.name,
                        "--port", str(self.port))
        assert done.returncode == 0, done.stderr
        self.vkey = done.stdout.strip()
        return self.vkey

    def add_log(self, origin: str, *vkeys: str) -> None:
        args: list[str | Path] = ["witness", "add-log", "--config", self.config, "--origin",
                                  origin]
        for v in vkeys:
            args += ["--vkey", v]
        done = absentia(*args)
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        self.proc = subprocess.Popen([str(ABSENTIA), "witness", "serve", "--config",
                                      str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=cli_env())
        wait_http(self.url + "/healthz", self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def post(self, body: bytes) -> tuple[int, str, bytes]:
        """POST /add-checkpoint: (status, content type, body)."""
        req = urllib.request.Request(self.url + "/add-checkpoint", data=body,  # noqa: S310
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get("Content-Type", ""), exc.read()
