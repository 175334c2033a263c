"""examples/retrieval/index_demo.py runs offline and ranks the judged passage first with every method."""
from __future__ import annotations

import importlib.util
import json
import os

from tests.helpers import REPO


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "examples", "retrieval", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_index_demo(tmp_path, minilm):
    demo = _example("index_demo")
    top = demo.main(["--index_dir", str(tmp_path / "index")])
    with open(os.path.join(REPO, "examples", "data", "demo", "test_qrels.jsonl"), encoding="utf-8") as f:
        relevant = {row["docid"] for row in map(json.loads, f) if row["qid"] == "q4" and row["relevance"] > 0}
    assert set(top) == set(demo.METHODS)
    assert all(docs and docs[0] in relevant for docs in top.values())


def test_vector_databases_example(tmp_path, minilm):
    """Every backend ranks the same passages; an added passage comes first in the databases and goes after delete."""
    out = _example("vector_databases").main(["--index_dir", str(tmp_path / "index")])
    built = out["memory"]["built"]
    assert built and all(out[b]["built"] == built and out[b]["deleted"] == built for b in ("qdrant", "milvus"))
    assert all(out[b]["added"] == ["new", *built[:2]] for b in ("qdrant", "milvus"))
