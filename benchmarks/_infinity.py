"""Worker run with an infinity-emb venv's interpreter (infinity-emb pins numpy 1.x, which our venv does not take).

``python _infinity.py spec.json``: starts infinity's ``AsyncEmbeddingEngine`` (torch engine, CPU, its defaults
otherwise) on the spec's sentence-transformers model folder, embeds the inputs once untimed (warm-up) and once
timed, with the spec's batch size and thread count, and writes ``seconds.json`` and ``dense.npy`` into the spec's
``out`` folder. Started by :func:`_common.run_worker`; not imported by the package.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import numpy as np


async def embed_all(spec: dict, inputs: list) -> dict:
    """Warm-up and timed ``engine.embed`` over ``inputs``; returns the seconds, the vectors and the version."""
    import infinity_emb
    from infinity_emb import AsyncEmbeddingEngine, EngineArgs

    engine = AsyncEmbeddingEngine.from_args(EngineArgs(model_name_or_path=spec["model"], engine="torch",
                                                       device="cpu", batch_size=spec["batch_size"]))
    async with engine:
        await engine.embed(sentences=inputs[:8])
        start = time.perf_counter()
        vectors, _ = await engine.embed(sentences=inputs)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "dense": np.stack(vectors).astype(np.float32), "version": infinity_emb.__version__}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    with open(spec["inputs"], encoding="utf-8") as f:
        inputs = json.load(f)
    import torch

    torch.set_num_threads(spec["threads"])
    result = asyncio.run(embed_all(spec, inputs))
    np.save(os.path.join(spec["out"], "dense.npy"), result["dense"])
    with open(os.path.join(spec["out"], "seconds.json"), "w", encoding="utf-8") as f:
        json.dump({"seconds": result["seconds"], "version": result["version"]}, f)


if __name__ == "__main__":
    main()
