"""Encode with ONNX Runtime (fp32 or dynamic int8) and compare with the torch fp32 path on the same texts.

Usage: python onnx_backend.py /path/to/bge-base-en-v1.5 [--quantize int8] [--onnx_cache_dir ./onnx-cache]

The first run exports the encoder to ``--onnx_cache_dir`` (default ``$HF_HOME/flagembedding/onnx``); later runs
reuse the export. Needs ``pip install 'FlagEmbedding[onnx]'``.
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

from FlagEmbedding import FlagModel


def main(argv: Optional[List[str]] = None) -> float:
    """Print the similarity matrices of both backends and return their largest cosine deviation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path")
    parser.add_argument("--quantize", choices=["int8"], default=None)
    parser.add_argument("--onnx_cache_dir", default=None)
    args = parser.parse_args(argv)
    texts = ["I love NLP", "I love machine learning", "The giant panda is a bear species endemic to China."]
    torch_vectors = FlagModel(args.model_path, devices="cpu").encode(texts)
    onnx_model = FlagModel(args.model_path, devices="cpu", backend="onnx", quantize=args.quantize,
                           onnx_cache_dir=args.onnx_cache_dir)
    onnx_vectors = onnx_model.encode(texts)
    print("torch fp32 similarities:\n", np.round(torch_vectors @ torch_vectors.T, 4))
    print(f"onnx {args.quantize or 'fp32'} similarities:\n", np.round(onnx_vectors @ onnx_vectors.T, 4))
    deviation = float(np.max(np.abs(np.sum(torch_vectors * onnx_vectors, axis=1) - 1)))
    print(f"max |cos - 1| between the backends: {deviation:.2e}")
    return deviation


if __name__ == "__main__":
    main()
