"""Encode texts straight from a ``datasets`` column or a numpy array, as the original's tutorials do.

Usage: python dataset_columns.py /path/to/bge-base-en-v1.5 [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import datasets
import numpy as np

from FlagEmbedding import FlagModel

CORPUS = {
    "docid": ["d1", "d2", "d3"],
    "text": [
        "The giant panda's diet is made almost entirely of bamboo.",
        "Paris is the capital and most populous city of France.",
        "Deep learning models embed text into dense vectors.",
    ],
}
QUERIES = np.array(["What do giant pandas eat?", "capital of France"])


def main(argv: Optional[List[str]] = None) -> np.ndarray:
    """Encode the corpus column and the query array, print the best passage id of each query."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    corpus = datasets.Dataset.from_dict(CORPUS)
    model = FlagModel(args.model_path, devices=args.devices)
    similarity = model.encode_queries(QUERIES) @ model.encode_corpus(corpus["text"]).T
    for query, row in zip(QUERIES, similarity):
        print(f"{query} -> {corpus['docid'][int(row.argmax())]}")
    model.stop_self_pool()
    return similarity


if __name__ == "__main__":
    main()
