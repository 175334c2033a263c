"""Run a module of test cases in a fresh interpreter.

The ONNX Runtime / OpenVINO backend cases export graphs and load both runtimes' thread pools into the process;
run in the shared pytest process they were followed, in full-suite runs only and at varying places, by a
segmentation fault in later unrelated tests (not reproduced in smaller runs, cause not found yet). Running them
in their own interpreter keeps every assertion and keeps the rest of the suite out of that state.
"""
from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import REPO


def run_isolated(path: str, timeout: int = 1500) -> None:
    """Run the pytest cases of ``path`` (relative to the repository) in a new interpreter; fail with their report
    if any case fails."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": REPO}, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{path} failed:\n{result.stdout[-8000:]}\n{result.stderr[-2000:]}"
