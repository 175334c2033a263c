"""Encode texts with a pseudo-MoE decoder embedder, choosing the expert domain per call.

Usage: python flag_pseudo_moe_model.py /path/to/checkpoint [--domain coding] [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

from FlagEmbedding import FlagPseudoMoEModel

QUERIES = ["how to reverse a list in python", "what is the derivative of x squared"]
DOCUMENTS = [
    "Use slicing: my_list[::-1] returns a reversed copy, my_list.reverse() reverses in place.",
    "The derivative of x^2 with respect to x is 2x.",
]


def main(argv: Optional[List[str]] = None) -> np.ndarray:
    """Parse arguments, encode the demo texts in the chosen domain and print the similarity matrix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--domain", default="general", help="expert domain, e.g. general, coding, reasoning")
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    model = FlagPseudoMoEModel(  # bf16 by default, trust_remote_code=True for the custom model code
        args.model_path,
        query_instruction_for_retrieval="Given a question, retrieve passages that answer it.",
        domain_for_pseudo_moe=args.domain,
        devices=args.devices,
    )
    queries = model.encode_queries(QUERIES)
    passages = model.encode_corpus(DOCUMENTS, domain=args.domain)  # a per-call domain overrides the default
    similarity = queries @ passages.T
    print(similarity)
    model.stop_self_pool()
    return similarity


if __name__ == "__main__":
    main()
