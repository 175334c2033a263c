"""M3 index build: one encode pass for dense + sparse + ColBERT against one pass per representation, same run.

The model is all-MiniLM-L6-v2 loaded as a BGE-M3 model (``BGEM3FlagModel``: its backbone with randomly initialized
sparse and ColBERT heads, which cost two small linear layers: the timing is the encoder's). The baseline builds
the three representations one after the other (three ``encode_corpus`` passes, as before the shared pass); the
shared build asks for all three in one pass per shard. Runs are interleaved; the cached rows of both are
compared for equality.

    python benchmarks/m3_index_build.py --passages 300 --repeats 2
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (SCIFACT, add_json_argument, cpu_model, minilm_path, scifact_passages,  # noqa: E402
                     write_results)

PARTS = ("dense", "sparse", "colbert")


def cached_rows(folder: str) -> dict:
    """``{cache folder name: [shard arrays]}`` under an index folder."""
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            out[name] = [np.load(os.path.join(path, f)) for f in sorted(os.listdir(path)) if f.endswith(".npy")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact_dir", default=SCIFACT)
    parser.add_argument("--passages", type=int, default=300, help="first N SciFact passages")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--shard_rows", type=int, default=100)
    add_json_argument(parser)
    args = parser.parse_args()

    from FlagEmbedding import BGEM3FlagModel
    from FlagEmbedding.retrieval import RetrievalIndex

    texts = scifact_passages(args.passages, args.scifact_dir)
    docids = [str(i) for i in range(len(texts))]
    model = BGEM3FlagModel(minilm_path(), devices="cpu", use_fp16=False, batch_size=32, passage_max_length=256)
    print(f"CPU: {cpu_model()}; threads: {os.environ.get('OMP_NUM_THREADS', 'default')}; "
          f"{len(texts)} passages, shards of {args.shard_rows}")
    times = {"per representation": [], "one pass": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as separate, tempfile.TemporaryDirectory() as shared:
            start = time.perf_counter()
            for part in PARTS:
                RetrievalIndex.build(separate, docids, texts, embedder=model, representations=[part],
                                     shard_rows=args.shard_rows, store_corpus=False)
            times["per representation"].append(time.perf_counter() - start)
            start = time.perf_counter()
            RetrievalIndex.build(shared, docids, texts, embedder=model, representations=list(PARTS),
                                 shard_rows=args.shard_rows, store_corpus=False)
            times["one pass"].append(time.perf_counter() - start)
            baseline, ours = cached_rows(separate), cached_rows(shared)
            assert sorted(baseline) == sorted(ours), "the two builds wrote different cache folders"
            for name in baseline:
                for a, b in zip(baseline[name], ours[name]):
                    np.testing.assert_array_equal(a, b)
    for name, values in times.items():
        print(f"{name}: " + ", ".join(f"{v:.2f}s" for v in values) + f" (median {np.median(values):.2f}s)")
    print(f"one pass / per representation: {np.median(times['one pass']) / np.median(times['per representation']):.2f}"
          " (cached rows identical)")
    write_results(args.json, "m3_index_build",
                  [{"build": name, "seconds": values, "median_s": float(np.median(values))} for name, values in times.items()],
                  passages=len(texts), ratio_one_pass_over_per_representation=float(
                      np.median(times["one pass"]) / np.median(times["per representation"])))


if __name__ == "__main__":
    main()
