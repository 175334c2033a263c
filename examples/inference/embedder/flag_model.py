"""Encode queries and passages with an encoder-only embedder (e.g. BAAI/bge-base-en-v1.5).

Usage: python flag_model.py /path/to/bge-base-en-v1.5 [--pooling_method cls|mean] [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

from FlagEmbedding import FlagModel

QUERIES = ["What do giant pandas eat?", "capital of France"]
PASSAGES = [
    "The giant panda's diet is made almost entirely of bamboo.",
    "Paris is the capital and most populous city of France.",
]


def main(argv: Optional[List[str]] = None) -> np.ndarray:
    """Parse arguments, encode the demo texts and print the query-passage similarity matrix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--pooling_method", default="cls", choices=["cls", "mean", "last_token"])
    parser.add_argument("--query_instruction", default=None,
                        help="e.g. 'Represent this sentence for searching relevant passages: '")
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    model = FlagModel(
        args.model_path,
        pooling_method=args.pooling_method,
        query_instruction_for_retrieval=args.query_instruction,
        devices=args.devices,
        use_fp16=True,  # fp16 on GPUs; the CPU always computes in fp32
    )
    similarity = model.encode_queries(QUERIES) @ model.encode_corpus(PASSAGES).T
    print(similarity)
    model.stop_self_pool()
    return similarity


if __name__ == "__main__":
    main()
