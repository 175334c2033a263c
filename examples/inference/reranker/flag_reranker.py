"""Score query-passage pairs with a cross-encoder reranker (e.g. BAAI/bge-reranker-v2-m3).

Usage: python flag_reranker.py /path/to/bge-reranker-v2-m3 [--normalize] [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

from FlagEmbedding import FlagReranker

PAIRS = [
    ["what is panda?", "hi"],
    ["what is panda?", "The giant panda is a bear species endemic to China."],
]


def main(argv: Optional[List[str]] = None) -> List[float]:
    """Parse arguments, score the demo pairs and print one score per pair."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--normalize", action="store_true", help="map scores to (0, 1) with a sigmoid")
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    reranker = FlagReranker(args.model_path, use_fp16=True, devices=args.devices)  # fp16 on GPUs only
    scores = reranker.compute_score(PAIRS, normalize=args.normalize)
    print(scores)
    reranker.stop_self_pool()
    return scores


if __name__ == "__main__":
    main()
