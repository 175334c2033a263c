"""Rerank SciFact query-passage pairs with a MiniLM cross-encoder: FlagReranker vs the original FlagEmbedding 1.4.2.

The cross-encoder is all-MiniLM-L6-v2's encoder plus a random 1-label head (seeded), saved to a temporary
folder so every engine loads the same checkpoint. The baseline is the original FlagReranker run in its own
interpreter (``--orig_python``, see ``encode_throughput.py``), else sentence-transformers' CrossEncoder (said in
the output). Engines run interleaved, best of ``--repeats``; prints the CPU model and ISA flags, pairs/s, the
ratio against the baseline and the max score deviation, for our fp32, opt-in bf16 and ONNX fp32 / int8.

    nice python benchmarks/rerank_throughput.py --num_pairs 400 --max_lengths 256 512
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

from _common import (ORIGINAL_PYTHON, SCIFACT, add_json_argument, interleaved_best, minilm_path, original_available,
                     print_ratio_table, run_original, scifact_passages, timed, write_results)


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
    parser.add_argument("--num_pairs", type=int, default=400)
    parser.add_argument("--max_lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch_size", type=int, default=128, help="the original's default")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds; best per engine")
    parser.add_argument("--orig_python", default=ORIGINAL_PYTHON)
    parser.add_argument("--extra", nargs="*", default=["bf16", "onnx", "onnx-int8"],
                        choices=["bf16", "onnx", "onnx-int8", "openvino"])
    add_json_argument(parser)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from FlagEmbedding import FlagReranker
    from FlagEmbedding.backends.cpu_info import cpu_description

    pairs = scifact_pairs(args.num_pairs)
    has_original = original_available(args.orig_python)
    print(f"CPU: {cpu_description()}")
    print(f"{len(pairs)} SciFact pairs, MiniLM-L6 cross-encoder, batch_size={args.batch_size}, baseline: "
          f"{'original FlagEmbedding 1.4.2' if has_original else 'sentence-transformers CrossEncoder (no original venv)'}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        model_dir = build_cross_encoder(os.path.join(folder, "model"))
        options = {"bf16": dict(use_bf16=True), "onnx": dict(backend="onnx"), "onnx-int8": dict(backend="onnx", quantize="int8"),
               "openvino": dict(backend="openvino")}
        for max_length in args.max_lengths:
            size = dict(batch_size=args.batch_size, max_length=max_length)
            engines = {}
            if has_original:
                engines["original 1.4.2"] = lambda: (lambda r: (r[0], r[1]["scores"]))(
                    run_original(args.orig_python, "reranker", model_dir, pairs, max_length, args.batch_size))
            else:
                from sentence_transformers import CrossEncoder

                st = CrossEncoder(model_dir, device="cpu", max_length=max_length, activation_fn=torch.nn.Identity())
                engines["sentence-transformers"] = lambda: timed(lambda: np.asarray(
                    st.predict(pairs, batch_size=args.batch_size, show_progress_bar=False), dtype=np.float32))
            for name in ["fp32"] + list(args.extra):
                model = FlagReranker(model_dir, devices="cpu", onnx_cache_dir=folder, **size, **options.get(name, {}))
                model.compute_score(pairs[:4])  # warm-up / export outside the timing
                engines[f"ours {name}"] = (lambda m: lambda: timed(
                    lambda: np.asarray(m.compute_score(pairs), dtype=np.float32)))(model)
            table = print_ratio_table(f"max_length={max_length}", interleaved_best(engines, args.repeats),
                                      len(pairs), "pairs/s",
                                      lambda a, b: f"max |score diff| {float(np.max(np.abs(a - b))):.1e}")
            rows += [{"max_length": max_length, "batch_size": args.batch_size, "pairs": len(pairs), **row}
                     for row in table]
    write_results(args.json, "rerank_throughput", rows)


if __name__ == "__main__":
    main()
