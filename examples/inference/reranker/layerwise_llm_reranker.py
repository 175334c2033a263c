"""Score query-passage pairs with the layer-wise reranker (BAAI/bge-reranker-v2-minicpm-layerwise).

Each layer in ``--cutoff_layers`` (the checkpoint has heads for layers 8..40) gives its own scores; lower
layers are faster and slightly less accurate.

Usage: python layerwise_llm_reranker.py /path/to/bge-reranker-v2-minicpm-layerwise --cutoff_layers 28
"""
from __future__ import annotations

import argparse
from typing import Any, List, Optional

from FlagEmbedding import LayerWiseFlagLLMReranker

PAIRS = [
    ["what is panda?", "hi"],
    ["what is panda?", "The giant panda is a bear species endemic to China."],
]


def main(argv: Optional[List[str]] = None) -> Any:
    """Parse arguments, score the demo pairs and print the scores (one list per layer if several)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--cutoff_layers", type=int, nargs="+", default=[28])
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    reranker = LayerWiseFlagLLMReranker(args.model_path, use_fp16=True, devices=args.devices)
    scores = reranker.compute_score(PAIRS, cutoff_layers=args.cutoff_layers)
    print(scores)
    reranker.stop_self_pool()
    return scores


if __name__ == "__main__":
    main()
