"""Encode SciFact passages with all-MiniLM-L6-v2: FlagModel vs sentence-transformers, fp32 and CPU bf16.

Prints passages/s, tokens/s and peak RSS for each engine at each max length, the speed ratio against
sentence-transformers measured in the same process, and the max cosine deviation between engines.

    python benchmarks/encode_throughput.py --num_passages 1000 --max_lengths 256 512
"""
from __future__ import annotations

import argparse
import logging

import numpy as np
import torch

from _common import measure, minilm_path, scifact_passages


def cosine_deviation(a: np.ndarray, b: np.ndarray) -> float:
    """max |cos(a_i, b_i) - 1| over rows."""
    cos = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(np.max(np.abs(cos - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_passages", type=int, default=1000)
    parser.add_argument("--max_lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="best of N timed runs per engine")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from sentence_transformers import SentenceTransformer

    from FlagEmbedding import FlagModel

    path = minilm_path()
    texts = scifact_passages(args.num_passages)
    print(f"{len(texts)} SciFact passages, all-MiniLM-L6-v2, batch_size={args.batch_size}, "
          f"torch threads={torch.get_num_threads()}")
    st = SentenceTransformer(path, device="cpu")
    fp32 = FlagModel(path, pooling_method="mean", devices="cpu", batch_size=args.batch_size)
    bf16 = FlagModel(path, pooling_method="mean", devices="cpu", batch_size=args.batch_size, use_bf16=True)
    engines = {
        "sentence-transformers": lambda n: st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True),
        "FlagModel fp32": lambda n: fp32.encode_corpus(texts, max_length=n),
        "FlagModel bf16": lambda n: bf16.encode_corpus(texts, max_length=n),
    }
    for max_length in args.max_lengths:
        st.max_seq_length = max_length
        n_tokens = sum(min(len(ids), max_length) for ids in fp32.tokenizer(texts)["input_ids"])
        print(f"\nmax_length={max_length} ({n_tokens} tokens)")
        print(f"{'engine':<24}{'passages/s':>12}{'tokens/s':>12}{'peak RSS MiB':>14}{'ratio':>8}{'max|cos-1|':>12}")
        outputs, timings = {}, {}
        for name, run in engines.items():
            run(max_length)  # warm-up
            best = None
            for _ in range(args.repeats):
                stats: dict = {}
                with measure(stats):
                    outputs[name] = run(max_length)
                best = stats if best is None or stats["seconds"] < best["seconds"] else best
            timings[name] = best
        base = timings["sentence-transformers"]["seconds"]
        for name, stats in timings.items():
            dev = cosine_deviation(outputs[name], outputs["sentence-transformers"])
            print(f"{name:<24}{len(texts) / stats['seconds']:>12.1f}{n_tokens / stats['seconds']:>12.0f}"
                  f"{stats['peak_rss_mib']:>14.1f}{base / stats['seconds']:>8.2f}{dev:>12.2e}")


if __name__ == "__main__":
    main()
