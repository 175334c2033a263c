"""The built Sphinx site renders in headless Chromium (Debian's ``chromium``): the landing page and one guide have
their title, furo's navigation sidebar links to Getting started and the guides, every image loads and decodes
(the logo, the benchmark figure), no page asset is missing, and the logo is painted."""
from __future__ import annotations

import html
import json
import os
import re
from html.parser import HTMLParser
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import pytest

from tests.helpers import browser
from tests.helpers.docs import PROBE_PATH, DocsBuild, RecordingServer, serve_folder

pytestmark = pytest.mark.skipif(browser.CHROMIUM is None, reason=browser.SKIP_REASON)

#: the logo's flag colour (docs/_static/logo.svg, fill="#2f80c2")
LOGO_BLUE = (0x2F, 0x80, 0xC2)
GUIDE = "guides/embedder.html"


def chromium(*args: str) -> str:
    """Headless Chromium's stdout (tests.helpers.browser.chromium: bounded in time)."""
    return browser.chromium(*args).stdout


class SidebarLinks(HTMLParser):
    """The (href, text) of every link inside furo's ``<div class="sidebar-tree">`` and the links marked current."""

    def __init__(self) -> None:
        super().__init__()
        self.links: List[Tuple[str, str]] = []
        self.current: List[str] = []
        self._depth = 0  # > 0 while inside the sidebar tree (counting nested divs)
        self._href: Optional[str] = None
        self._text: List[str] = []
        self._current_li = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and (self._depth or "sidebar-tree" in classes):
            self._depth += 1
        elif self._depth and tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []
            if "current" in classes:
                self.current.append(self._href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._depth:
            self._depth -= 1
        elif tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


def sidebar(dom: str) -> SidebarLinks:
    parser = SidebarLinks()
    parser.feed(dom)
    return parser


def probe(site: RecordingServer, page: str) -> Dict:
    """Title and images of ``page`` after it loaded in Chromium (see tests.helpers.docs.PROBE_PATH)."""
    dom = chromium("--dump-dom", f"{site.url}{PROBE_PATH}?page=/{page}")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found is not None and found.group(1) != "pending", dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def site(docs_build: DocsBuild) -> Iterator[RecordingServer]:
    assert docs_build.returncode == 0, f"sphinx -W failed:\n{docs_build.stderr[-3000:]}"
    yield from serve_folder(docs_build.html)


def test_landing_page_renders_with_navigation_and_images(site, docs_build):
    result = probe(site, "index.html")
    assert result["title"] == "FlagEmbedding"
    images = {image["src"]: image for image in result["images"]}
    # the sidebar logo and the README's benchmark figure, both decoded by the browser
    assert set(images) >= {"_static/logo.svg", "_images/encode_throughput.png"}, images
    for image in images.values():
        assert image["complete"] and image["naturalWidth"] > 0, image
    assert site.status_of("/_static/logo.svg") == [200]
    assert site.status_of("/_images/encode_throughput.png") == [200]
    assert 200 in site.status_of("/_static/styles/furo.css")
    missing = [(path, status) for path, status in site.requests if status >= 400 and path != "/favicon.ico"]
    assert missing == []

    links = sidebar(chromium("--dump-dom", f"{site.url}/index.html"))
    hrefs = dict(links.links)
    assert hrefs.get("getting_started/index.html") == "Getting started"
    for page in ("install", "first_embedding", "evaluate", "finetune", "serve", "scale_out"):
        assert f"getting_started/{page}.html" in hrefs, page
    guides = sorted(name for name in os.listdir(os.path.join(docs_build.html, "guides")) if name.endswith(".html"))
    assert len(guides) >= 5
    for name in guides:
        assert f"guides/{name}" in hrefs, name  # every guide is in the navigation
    for page in ("benchmarks.html", "status.html", "architecture.html"):
        assert page in hrefs, page


def test_guide_page_renders_and_paints_the_logo(site, tmp_path):
    result = probe(site, GUIDE)
    assert result["title"] == "Embedding texts - FlagEmbedding"
    logos = [image for image in result["images"] if image["src"] == "../_static/logo.svg"]
    assert len(logos) == 1 and logos[0]["naturalWidth"] > 0

    links = sidebar(chromium("--dump-dom", f"{site.url}/{GUIDE}"))
    hrefs = dict(links.links)
    assert hrefs.get("../getting_started/index.html") == "Getting started"
    assert links.current == ["#"] and hrefs["#"] == "Embedding texts"  # this page, highlighted
    assert hrefs.get("compatibility.html") == "Compatibility with FlagEmbedding 1.4.2"  # a sibling guide

    # painted, not only fetched: the logo's blue fills a patch of the sidebar (left third) of a desktop-width shot
    from PIL import Image

    shot = tmp_path / "guide.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,900", f"{site.url}/{GUIDE}")
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert pixels.shape == (900, 1280, 3)
    blue = (np.abs(pixels - np.array(LOGO_BLUE)) <= 12).all(axis=2)
    assert blue[:, :430].sum() > 1500, blue.sum()  # the flag is ~100 x 60 px
    assert blue[:, 430:].sum() < blue[:, :430].sum() / 10  # and it is the logo, not the page's link colour
