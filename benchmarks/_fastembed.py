"""Worker run with a fastembed venv's interpreter (fastembed pins a huggingface_hub our venv cannot take).

``python _fastembed.py spec.json``: registers the spec's model folder (an ONNX graph in ``onnx/model.onnx`` next
to the tokenizer files, ``tokenizer_config.json`` limiting the length) as a fastembed custom model with mean
pooling and normalization, runs one warm-up and one timed ``TextEmbedding.embed`` over the inputs with the
spec's thread count and batch size, and writes ``seconds.json`` and ``dense.npy`` into the spec's ``out``
folder. Started by :func:`_common.run_worker`; not imported by the package.
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
    import fastembed
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    name = "flagembedding-benchmark/local-model"
    TextEmbedding.add_custom_model(model=name, pooling=PoolingType.MEAN, normalization=True,
                                   sources=ModelSource(hf=name), dim=spec["dim"], model_file="onnx/model.onnx")
    model = TextEmbedding(model_name=name, specific_model_path=spec["model"], threads=spec["threads"])
    run = lambda items: np.stack(list(model.embed(items, batch_size=spec["batch_size"])))  # noqa: E731
    run(inputs[:8])
    start = time.perf_counter()
    output = run(inputs)
    seconds = time.perf_counter() - start
    np.save(os.path.join(spec["out"], "dense.npy"), output.astype(np.float32))
    with open(os.path.join(spec["out"], "seconds.json"), "w", encoding="utf-8") as f:
        json.dump({"seconds": seconds, "version": fastembed.__version__}, f)


if __name__ == "__main__":
    main()
