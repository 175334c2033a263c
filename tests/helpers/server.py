"""A real ``python -m FlagEmbedding.serve`` process on 127.0.0.1 (free port), started and stopped with bounds."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import httpx

from tests.helpers import REPO


START_TIMEOUT_S = 180


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python -m FlagEmbedding.serve ARGS --port P`` in a subprocess; :meth:`start` waits for /health == 200."""

    def __init__(self, args: List[str], api_key: Optional[str] = None, threads: Optional[int] = 1,
                 env: Optional[Dict[str, str]] = None):
        self.port = free_port()
        self.api_key = api_key
        self.threads = threads
        self.env = env or {}
        self.args = [*args, "--port", str(self.port), "--log_level", "warning"]
        if api_key:
            self.args += ["--api_key", api_key]
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def start(self) -> "ServerProcess":
        env = {**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        env.pop("FLAGEMBEDDING_API_KEY", None)
        env.update(self.env)
        if self.threads is None:
            env.pop("OMP_NUM_THREADS", None)
        else:
            env["OMP_NUM_THREADS"] = str(self.threads)
        self.process = subprocess.Popen(self.command(), cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {START_TIMEOUT_S}s:\n{self.output()}")

    def command(self) -> List[str]:
        """The server's argv: ``python -m FlagEmbedding.serve`` with this instance's arguments."""
        return [sys.executable, "-m", "FlagEmbedding.serve", *self.args]

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def terminate(self) -> None:
        """Send SIGTERM (graceful drain)."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        os.unlink(self.log.name)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.headers, timeout=60, **kwargs)


def send_request_head(server: ServerProcess, path: str, headers: Dict[str, str], body: bytes = b"",
                      timeout: float = 15) -> socket.socket:
    """A raw socket to ``server`` that has sent ``POST path`` with ``headers`` and the start of a body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def read_response(sock: socket.socket) -> Tuple[int, Dict[str, str], Any]:
    """Status, lower-cased headers and JSON body of the HTTP response on ``sock`` (http.client parses it)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, {name.lower(): value for name, value in response.getheaders()}, json.loads(body)
