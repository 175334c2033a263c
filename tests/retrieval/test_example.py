"""examples/retrieval/index_demo.py runs offline and ranks the judged passage first with every method."""
from __future__ import annotations

import importlib.util
import json
import os

from tests.helpers import REPO


def test_index_demo(tmp_path, minilm):
    path = os.path.join(REPO, "examples", "retrieval", "index_demo.py")
    spec = importlib.util.spec_from_file_location("index_demo", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    top = demo.main(["--index_dir", str(tmp_path / "index")])
    with open(os.path.join(REPO, "examples", "data", "demo", "test_qrels.jsonl"), encoding="utf-8") as f:
        relevant = {row["docid"] for row in map(json.loads, f) if row["qid"] == "q4" and row["relevance"] > 0}
    assert set(top) == set(demo.METHODS)
    assert all(docs and docs[0] in relevant for docs in top.values())
