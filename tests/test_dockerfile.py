"""The Dockerfile's install steps and start command, performed in a clean virtual
environment (no Docker engine runs here): the service comes up and answers /v1/health."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dockerfile_shape() -> None:
    steps = dict(instructions())
    assert steps["FROM"].startswith("python:") and "slim" in steps["FROM"]
    assert steps["USER"] not in ("root", "0")
    assert "/v1/health" in steps["HEALTHCHECK"]
    assert "/data" in steps["VOLUME"]
    assert "0.0.0.0" in steps["CMD"] and "8000" in steps["CMD"]


@pytest.mark.slow
def test_install_steps_and_start_command_serve_health(tmp_path: Path) -> None:
    app_dir, data_dir = tmp_path / "app", tmp_path / "data"
    data_dir.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_dir = tmp_path / "venv" / "bin"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "VIRTUAL_ENV": str(bin_dir.parent),
    }
    env.pop("ARCHIVE_DATABASE_URL", None)
    cmd: list[str] = []
    for word, rest in instructions():
        if word == "ENV":
            for assignment in shlex.split(rest):
                key, _, value = assignment.partition("=")
                env[key] = value.replace("/data/", f"{data_dir}/")
        elif word == "WORKDIR":
            app_dir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, target = shlex.split(rest)
            for source in sources:
                src, dst = ROOT / source, app_dir / target
                if src.is_dir():
                    shutil.copytree(
                        src,
                        dst / src.name if target.endswith("/") and target != "./" else dst,
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"),
                    )
                else:
                    shutil.copy(src, app_dir / Path(source).name)
        elif word == "RUN":
            for step in rest.split("&&"):
                args = shlex.split(step)
                if args and args[0] == "pip":  # users and folders are the image's business
                    subprocess.run(
                        [str(bin_dir / "pip"), *args[1:]],
                        cwd=app_dir,
                        env=env,
                        check=True,
                        capture_output=True,
                    )
        elif word == "CMD":
            cmd = json.loads(rest)
    assert cmd, "the Dockerfile has a CMD"
    port = free_port()
    cmd = [str(port) if part == "8000" else part for part in cmd]
    cmd = ["127.0.0.1" if part == "0.0.0.0" else part for part in cmd]
    server = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        body = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert body is not None, server.stdout.read() if server.poll() is not None else "timeout"
        assert body == {"status": "ok", "database": "sqlite", "documents": 5}
        assert (data_dir / "archive.db").exists(), "the SQLite file lives in the volume"
    finally:
        server.terminate()
        server.wait(timeout=20)
