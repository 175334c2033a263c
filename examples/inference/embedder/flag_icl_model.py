"""Encode queries with in-context examples (BAAI/bge-en-icl) and score them against passages.

Usage: python flag_icl_model.py /path/to/bge-en-icl [--devices cpu] [--no-examples]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

from FlagEmbedding import FlagICLModel

TASK = "Given a web search query, retrieve relevant passages that answer the query."
EXAMPLES = [
    {
        "instruct": TASK,
        "query": "what is a virtual interface",
        "response": "A virtual interface is a software-defined abstraction that mimics the behavior of a physical "
                    "network interface.",
    },
    {
        "instruct": TASK,
        "query": "causes of back pain in female for a week",
        "response": "Back pain in females lasting a week can stem from muscle strain, spinal issues or menstrual "
                    "cramps.",
    },
]
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
    parser.add_argument("--no-examples", action="store_true", help="encode queries without in-context examples")
    args = parser.parse_args(argv)
    model = FlagICLModel(
        args.model_path,
        query_instruction_for_retrieval=TASK,
        examples_for_task=None if args.no_examples else EXAMPLES,
        devices=args.devices,
        use_fp16=True,  # fp16 on GPUs; the CPU always computes in fp32
    )
    queries = model.encode_queries(QUERIES)
    passages = model.encode_corpus(DOCUMENTS)
    similarity = queries @ passages.T
    print(similarity)
    model.stop_self_pool()
    model.stop_self_query_pool()
    return similarity


if __name__ == "__main__":
    main()
