"""The Sphinx site: one ``-W`` build shared by the build test and the browser test, and a static file server
that records what a browser asked for."""
from __future__ import annotations

import functools
import html
import http.server
import os
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Iterator, List, Tuple

from tests.helpers import REPO


@dataclass
class DocsBuild:
    """Where the HTML went and how ``sphinx -W`` ended."""

    html: str
    returncode: int
    stderr: str


def build_docs(html_dir: str, timeout: float = 900) -> DocsBuild:
    """``python -m sphinx -W --keep-going -b html docs <html_dir>``: warnings are errors, as in CI."""
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", os.path.join(REPO, "docs"),
         html_dir],
        capture_output=True, text=True, timeout=timeout,
    )
    return DocsBuild(html_dir, result.returncode, result.stderr)


@dataclass
class RecordingServer:
    """A static server on 127.0.0.1 (an ephemeral port) for one folder; ``requests`` lists (path, status)."""

    url: str
    requests: List[Tuple[str, int]] = field(default_factory=list)

    def status_of(self, path: str) -> List[int]:
        """The statuses answered to ``path`` (without query string), in order."""
        return [status for requested, status in self.requests if requested.split("?")[0] == path]


#: ``/__probe__?page=<path>``: a page that opens ``<path>`` in a same-origin frame and, once it has loaded (images
#: included), writes its title and each image's ``naturalWidth`` as JSON into ``<pre id="probe">``, which
#: ``chromium --dump-dom`` then prints. ``naturalWidth`` is 0 for an image that did not decode.
PROBE_PATH = "/__probe__"
_PROBE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>probe</title></head><body>
<pre id="probe">pending</pre>
<iframe id="frame" src="%s" style="width:1280px;height:900px"></iframe>
<script>
document.getElementById("frame").addEventListener("load", function () {
  var doc = this.contentDocument;
  var images = Array.prototype.map.call(doc.images, function (img) {
    return {src: img.getAttribute("src"), complete: img.complete, naturalWidth: img.naturalWidth};
  });
  document.getElementById("probe").textContent = JSON.stringify({title: doc.title, images: images});
});
</script></body></html>"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    record: List[Tuple[str, int]]

    def do_GET(self) -> None:
        """Files of the folder, and the probe page."""
        path, _, query = self.path.partition("?")
        if path != PROBE_PATH:
            super().do_GET()
            return
        page = urllib.parse.parse_qs(query).get("page", ["/index.html"])[0]
        body = (_PROBE_PAGE % html.escape(page, quote=True)).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: object = "-", size: object = "-") -> None:  # noqa: D401 (stdlib hook)
        self.record.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format: str, *args: object) -> None:  # silence the stderr access log
        pass


def serve_folder(folder: str) -> Iterator[RecordingServer]:
    """Serve ``folder`` until the generator is closed (use as a pytest fixture body)."""
    record: List[Tuple[str, int]] = []
    handler = type("RecordingHandler", (_Handler,), {"record": record})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=folder))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield RecordingServer(f"http://127.0.0.1:{httpd.server_address[1]}", record)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
