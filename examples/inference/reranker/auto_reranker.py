"""Load a reranker by its checkpoint name with FlagAutoReranker and score query-passage pairs.

The folder's name (or the parent's, for ``checkpoint-N``) picks the class from the registry, e.g.
``bge-reranker-v2-m3`` -> FlagReranker; pass ``--model_class`` for names the registry does not know.

Usage: python auto_reranker.py /path/to/bge-reranker-v2-m3 [--model_class encoder-only-base] [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import Any, List, Optional

from FlagEmbedding import FlagAutoReranker

PAIRS = [
    ["what is panda?", "hi"],
    ["what is panda?", "The giant panda is a bear species endemic to China."],
]


def main(argv: Optional[List[str]] = None) -> Any:
    """Parse arguments, load the registered reranker class, score the demo pairs and print the scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--model_class", default=None,
                        choices=["encoder-only-base", "decoder-only-base", "decoder-only-layerwise",
                                 "decoder-only-lightweight"])
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    reranker = FlagAutoReranker.from_finetuned(args.model_path, model_class=args.model_class, use_fp16=True,
                                               devices=args.devices)
    print(type(reranker).__name__)
    scores = reranker.compute_score(PAIRS, normalize=True)
    print(scores)
    reranker.stop_self_pool()
    return scores


if __name__ == "__main__":
    main()
