"""Runs one page's code blocks in order (``python -m tests.docs.snippet_driver SPEC.json RESULTS.json``).

Python blocks share one namespace and are compiled with the page's line numbers (tracebacks point into the page);
bash blocks each run in ``bash -euo pipefail``. A block marked ``background`` (a server) is started and left
running, ``wait_url`` polled until it answers 200; background processes are stopped when the page ends.
RESULTS.json gets each block's stdout and the line of the block that failed.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import traceback
import urllib.request
from typing import Any, Dict, List, Optional


class _Tee(io.TextIOBase):
    def __init__(self, stream: Any) -> None:
        self.stream, self.buffer_text = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        return self.buffer_text.write(text)

    def flush(self) -> None:
        self.stream.flush()


def _wait(url: str, server: "subprocess.Popen[bytes]", timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the background block exited with status {server.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def _stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the group this driver started for the block
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main(spec_path: str, results_path: str) -> int:
    with open(spec_path, encoding="utf-8") as f:
        blocks: List[Dict[str, Any]] = json.load(f)
    namespace: Dict[str, Any] = {"__name__": "__main__"}
    stdouts: Dict[str, str] = {}
    background: List["subprocess.Popen[bytes]"] = []
    failed: Optional[int] = None
    real_stdout = sys.stdout
    try:
        for block in blocks:
            line, page = block["line"], block["page"]
            print(f"\n----- {page}:{line} ({block['lang']})", flush=True)
            started = time.monotonic()
            tee = _Tee(real_stdout)
            try:
                if block["lang"] == "python":
                    sys.stdout = tee
                    try:
                        exec(compile("\n" * (line - 1) + block["code"], page, "exec"), namespace)
                    finally:
                        sys.stdout = real_stdout
                elif block["background"]:
                    server = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block["code"]],
                                              start_new_session=True)
                    background.append(server)
                    if block["wait_url"]:
                        _wait(block["wait_url"], server)
                else:
                    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]], stdout=subprocess.PIPE)
                    out = proc.stdout.decode(errors="replace")
                    tee.write(out)
                    if proc.returncode:
                        raise RuntimeError(f"bash exited with status {proc.returncode}")
            except BaseException:
                traceback.print_exc()
                print(f"----- FAILED: {page}:{line}", flush=True)
                failed = line
                return 1
            finally:
                print(f"----- {page}:{line} took {time.monotonic() - started:.1f} s", flush=True)
                real_stdout.flush()
                stdouts[str(line)] = tee.buffer_text.getvalue()
        return 0
    finally:
        for server in background:
            _stop(server)
        with open(results_path, "w", encoding="utf-8") as f:
            json.dump({"stdouts": stdouts, "failed_line": failed}, f)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
