"""Score query-passage pairs with the lightweight reranker (BAAI/bge-reranker-v2.5-gemma2-lightweight).

``--compress_ratio`` > 1 mean-pools groups of passage tokens before each of ``--compress_layers``, and
``--cutoff_layers`` stops early: both trade a little accuracy for speed.

Usage: python lightweight_llm_reranker.py /path/to/bge-reranker-v2.5-gemma2-lightweight \\
           --cutoff_layers 28 --compress_ratio 2 --compress_layers 24 40
"""
from __future__ import annotations

import argparse
from typing import Any, List, Optional

from FlagEmbedding import LightWeightFlagLLMReranker

PAIRS = [
    ["what is panda?", "hi"],
    ["what is panda?", "The giant panda is a bear species endemic to China."],
]


def main(argv: Optional[List[str]] = None) -> Any:
    """Parse arguments, score the demo pairs and print the scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--cutoff_layers", type=int, nargs="+", default=[28])
    parser.add_argument("--compress_ratio", type=int, default=2)
    parser.add_argument("--compress_layers", type=int, nargs="+", default=[24, 40])
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    reranker = LightWeightFlagLLMReranker(args.model_path, use_fp16=True, devices=args.devices)
    scores = reranker.compute_score(
        PAIRS, cutoff_layers=args.cutoff_layers, compress_ratio=args.compress_ratio,
        compress_layers=args.compress_layers,
    )
    print(scores)
    reranker.stop_self_pool()
    return scores


if __name__ == "__main__":
    main()
