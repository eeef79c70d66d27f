"""Real `archive serve` processes for tests and benchmarks that need a server of their own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ARCHIVE = [sys.executable, "-m", "archive.cli"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(url: str, *args: str, timeout: float = 300, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*ARCHIVE, *args, "--database-url", url],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )
    if ok:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def create_key(url: str, name: str, scope: str = "write") -> str:
    return cli(url, "keys", "create", name, "--scope", scope).stdout.strip().splitlines()[-1]


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(
    url: str, *, env: dict[str, str] | None = None, startup_timeout: float = 90
) -> Iterator[Server]:
    """`archive serve` on a free port of 127.0.0.1 (it migrates and loads the corpus first).
    Rate limiting is off unless `env` turns it on."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="archive-serve-", suffix=".log")[1])
    environment = {
        **os.environ,
        "ARCHIVE_RATE_LIMIT_PER_ADDRESS": "0",
        "ARCHIVE_RATE_LIMIT_PER_KEY": "0",
        **(env or {}),
    }
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*ARCHIVE, "serve", "--database-url", url, "--port", str(port)]
            + ["--log-level", "warning"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=environment,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"archive serve exited:\n{server.output()}")
            try:
                if httpx.get(f"{server.base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"archive serve did not start:\n{server.output()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)
