"""Score query-passage pairs with an LLM reranker (e.g. BAAI/bge-reranker-v2-gemma).

Usage: python flag_llm_reranker.py /path/to/bge-reranker-v2-gemma [--peft_path lora/] [--devices cpu]
"""
from __future__ import annotations

import argparse
from typing import List, Optional

from FlagEmbedding import FlagLLMReranker

PAIRS = [
    ["what is panda?", "hi"],
    ["what is panda?", "The giant panda is a bear species endemic to China."],
]


def main(argv: Optional[List[str]] = None) -> List[float]:
    """Parse arguments, score the demo pairs and print one score (the ``Yes`` logit) per pair."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path", help="local checkpoint folder (or a Hub id when online)")
    parser.add_argument("--peft_path", default=None, help="optional LoRA adapter folder, merged at load")
    parser.add_argument("--devices", nargs="+", default=None, help="e.g. cpu, cuda:0 cuda:1")
    args = parser.parse_args(argv)
    reranker = FlagLLMReranker(args.model_path, peft_path=args.peft_path, use_fp16=True, devices=args.devices)
    scores = reranker.compute_score(PAIRS)
    print(scores)
    reranker.stop_self_pool()
    return scores


if __name__ == "__main__":
    main()
