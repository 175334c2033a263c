"""/docs renders in headless Chromium (Debian's ``chromium``): the Swagger UI shows the title and every route."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tests.helpers.browser import CHROMIUM, SKIP_REASON, chromium

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)


def test_docs_page_renders(dense_server, tmp_path):
    from PIL import Image

    url = f"{dense_server.url}/docs"
    dom = chromium("--dump-dom", url).stdout
    # rendered by Swagger UI's JavaScript (served locally from /docs-assets), not present in the raw HTML
    assert 'class="title"' in dom and "FlagEmbedding server" in dom
    for path in ("/v1/embeddings", "/v1/rerank", "/v1/models", "/health", "/metrics"):
        assert path in dom
    screenshot = tmp_path / "docs.png"
    chromium(f"--screenshot={screenshot}", "--window-size=1280,900", url)
    assert screenshot.exists()
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=np.float32)
    assert pixels.shape == (900, 1280)
    assert pixels.std() > 20  # not a blank page
    dark_rows = (pixels < 128).any(axis=1)
    assert dark_rows[:300].sum() > 20  # text in the top third: the title block
    if os.environ.get("SERVE_DOCS_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["SERVE_DOCS_SCREENSHOT"])
