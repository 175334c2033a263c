"""Headless Chromium (Debian's ``chromium``) for the rendering tests; tests skip with :data:`SKIP_REASON` when it
is absent."""
from __future__ import annotations

import shutil
import subprocess

#: the browser executable, or None
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "chromium is not installed (apt-get install -y chromium)"


def chromium(*args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with ``args`` (e.g. ``--dump-dom URL``, ``--screenshot=PATH URL``), bounded: 15 s of
    virtual time for the page, 120 s of wall time for the process."""
    assert CHROMIUM is not None, SKIP_REASON
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--hide-scrollbars", "--no-first-run", "--virtual-time-budget=15000", *args],
                          capture_output=True, text=True, timeout=120)
