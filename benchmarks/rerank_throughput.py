"""Rerank SciFact query-passage pairs with a MiniLM cross-encoder: FlagReranker vs sentence-transformers.

The cross-encoder is all-MiniLM-L6-v2's encoder plus a random 1-label head (seeded), saved to a temporary
folder so both engines load the same checkpoint. Prints pairs/s and peak RSS for sentence-transformers'
CrossEncoder, FlagReranker fp32 and FlagReranker with opt-in CPU bf16, the speed ratio against
sentence-transformers measured in the same process, and the max score deviation between engines.

    python benchmarks/rerank_throughput.py --num_pairs 2000 --max_length 512
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from typing import List

import numpy as np
import torch

from _common import SCIFACT, measure, minilm_path, scifact_passages


def scifact_pairs(num_pairs: int, passages_per_query: int = 10) -> List[List[str]]:
    """Each SciFact query paired with ``passages_per_query`` corpus passages (cycled), ``num_pairs`` in all."""
    with open(os.path.join(SCIFACT, "queries.jsonl"), encoding="utf-8") as f:
        queries = [json.loads(line)["text"] for line in f]
    passages = scifact_passages(num_pairs)
    pairs = []
    for i in range(num_pairs):
        query = queries[(i // passages_per_query) % len(queries)]
        pairs.append([query, passages[i % len(passages)]])
    return pairs


def build_cross_encoder(folder: str) -> str:
    """all-MiniLM-L6-v2 + a seeded random ``Linear(hidden, 1)`` head, saved with its tokenizer."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(minilm_path(), num_labels=1)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_pairs", type=int, default=2000)
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="best of N timed runs per engine")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from sentence_transformers import CrossEncoder

    from FlagEmbedding import FlagReranker

    pairs = scifact_pairs(args.num_pairs)
    with tempfile.TemporaryDirectory() as folder:
        build_cross_encoder(folder)
        st = CrossEncoder(folder, device="cpu", max_length=args.max_length, activation_fn=torch.nn.Identity())
        fp32 = FlagReranker(folder, devices="cpu", batch_size=args.batch_size, max_length=args.max_length)
        bf16 = FlagReranker(folder, devices="cpu", batch_size=args.batch_size, max_length=args.max_length,
                            use_bf16=True)
        engines = {
            "sentence-transformers": lambda items: st.predict(items, batch_size=args.batch_size,
                                                              show_progress_bar=False),
            "FlagReranker fp32": lambda items: fp32.compute_score(items),
            "FlagReranker bf16": lambda items: bf16.compute_score(items),
        }
        n_tokens = sum(len(ids) for ids in fp32.prepare_features(
            pairs, args.max_length * 3 // 4, args.max_length, {}, {})[0]["input_ids"])
        print(f"{len(pairs)} SciFact pairs ({n_tokens} tokens), MiniLM-L6 cross-encoder, max_length="
              f"{args.max_length}, batch_size={args.batch_size}, torch threads={torch.get_num_threads()}")
        print(f"{'engine':<24}{'pairs/s':>10}{'tokens/s':>12}{'peak RSS MiB':>14}{'ratio':>8}{'max|Δscore|':>13}")
        outputs, timings = {}, {}
        for name, run in engines.items():
            run(pairs[: args.batch_size * 2])  # warm-up
            best = None
            for _ in range(args.repeats):
                stats: dict = {}
                with measure(stats):
                    outputs[name] = np.asarray(run(pairs), dtype=np.float32)
                best = stats if best is None or stats["seconds"] < best["seconds"] else best
            timings[name] = best
        base = timings["sentence-transformers"]["seconds"]
        for name, stats in timings.items():
            deviation = float(np.max(np.abs(outputs[name] - outputs["sentence-transformers"])))
            print(f"{name:<24}{len(pairs) / stats['seconds']:>10.1f}{n_tokens / stats['seconds']:>12.0f}"
                  f"{stats['peak_rss_mib']:>14.1f}{base / stats['seconds']:>8.2f}{deviation:>13.2e}")


if __name__ == "__main__":
    main()
