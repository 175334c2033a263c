"""Let FlagAutoModel pick the embedder class, pooling and query format from the checkpoint's folder name.

Usage: python auto_model.py /path/to/bge-base-en-v1.5 [--model_class encoder-only-base] [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

from FlagEmbedding import FlagAutoModel


def main(argv: Optional[List[str]] = None) -> np.ndarray:
    """Build the embedder through the registry (or an explicit class) and print a similarity matrix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="folder whose name is in the registry, e.g. .../bge-base-en-v1.5")
    parser.add_argument("--model_class", default=None, help="override: encoder-only-base, encoder-only-m3, ...")
    parser.add_argument("--devices", nargs="+", default=None)
    args = parser.parse_args(argv)
    model = FlagAutoModel.from_finetuned(
        args.model_path,
        model_class=args.model_class,
        query_instruction_for_retrieval="Represent this sentence for searching relevant passages: ",
        devices=args.devices,
    )
    print(f"{type(model).__name__} with pooling '{model.pooling_method}'")
    embeddings_1 = model.encode(["I love NLP", "I love machine learning"])
    embeddings_2 = model.encode(["I love BGE", "I love text retrieval"])
    similarity = embeddings_1 @ embeddings_2.T
    print(similarity)
    model.stop_self_pool()
    return similarity


if __name__ == "__main__":
    main()
