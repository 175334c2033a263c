"""Encode queries and passages with a decoder-only embedder (e.g. BAAI/bge-multilingual-gemma2).

Usage: python flag_llm_model.py /path/to/bge-multilingual-gemma2 [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

from FlagEmbedding import FlagLLMModel

QUERIES = ["how much protein should a female eat", "summit define"]
DOCUMENTS = [
    "As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 is 46 grams per day.",
    "Definition of summit for English Language Learners. : 1  the highest point of a mountain.",
]


def main(argv: Optional[List[str]] = None) -> np.ndarray:
    """Parse arguments, encode the demo texts and print the query-passage similarity matrix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    model = FlagLLMModel(
        args.model_path,
        query_instruction_for_retrieval="Given a web search query, retrieve relevant passages that answer the query.",
        query_instruction_format="<instruct>{}\n<query>{}",
        devices=args.devices,
        use_fp16=True,  # fp16 on GPUs; the CPU always computes in fp32
    )
    queries = model.encode_queries(QUERIES)
    passages = model.encode_corpus(DOCUMENTS)
    similarity = queries @ passages.T
    print(similarity)
    model.stop_self_pool()
    return similarity


if __name__ == "__main__":
    main()
