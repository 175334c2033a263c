"""Worker run with the ORIGINAL FlagEmbedding 1.4.2's interpreter (a separate venv with transformers 4.x).

``python _original.py spec.json``: loads the model named in the spec, runs one warm-up and one timed call of
the requested kind on the inputs, and writes ``seconds.json`` plus the outputs (``.npy`` / ``.json``, never
pickles) into the spec's ``out`` folder. Started by :func:`_common.run_original`; not imported by the package.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    with open(spec["inputs"], encoding="utf-8") as f:
        inputs = json.load(f)
    import FlagEmbedding
    from FlagEmbedding import BGEM3FlagModel, FlagModel, FlagReranker

    assert FlagEmbedding.__file__.startswith(sys.prefix), f"not the installed original: {FlagEmbedding.__file__}"
    common = dict(use_fp16=spec.get("use_fp16", False), devices=spec.get("devices", "cpu"))
    size = dict(batch_size=spec["batch_size"], max_length=spec["max_length"])
    if spec["kind"] == "embedder":
        model = FlagModel(spec["model"], pooling_method="mean", **common)
        run = lambda items: model.encode_corpus(items, **size)  # noqa: E731
    elif spec["kind"] == "m3":
        model = BGEM3FlagModel(spec["model"], **common)
        run = lambda items: model.encode(items, return_dense=True, return_sparse=True,  # noqa: E731
                                         return_colbert_vecs=True, **size)
    else:
        model = FlagReranker(spec["model"], **common)
        run = lambda items: model.compute_score(items, **size)  # noqa: E731
    run(inputs[:8])
    start = time.perf_counter()
    output = run(inputs)
    seconds = time.perf_counter() - start
    out = spec["out"]
    if spec["kind"] == "embedder":
        np.save(os.path.join(out, "dense.npy"), np.asarray(output, dtype=np.float32))
    elif spec["kind"] == "m3":
        np.save(os.path.join(out, "dense.npy"), np.asarray(output["dense_vecs"], dtype=np.float32))
        np.savez(os.path.join(out, "colbert.npz"), *[np.asarray(v, dtype=np.float32) for v in output["colbert_vecs"]])
        with open(os.path.join(out, "sparse.json"), "w", encoding="utf-8") as f:
            json.dump([{k: float(v) for k, v in w.items()} for w in output["lexical_weights"]], f)
    else:
        np.save(os.path.join(out, "scores.npy"), np.asarray(output, dtype=np.float32))
    with open(os.path.join(out, "seconds.json"), "w", encoding="utf-8") as f:
        json.dump({"seconds": seconds, "version": FlagEmbedding.__version__ if hasattr(FlagEmbedding, "__version__") else "1.4.2"}, f)


if __name__ == "__main__":
    main()
