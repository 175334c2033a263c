"""Where fp32 CPU encode time goes: tokenization, padding waste and the operator breakdown of the forward pass.

all-MiniLM-L6-v2 (mean pooling) on SciFact passages at each ``--max_lengths``: the tokenization time against
the encode time, the padded-token waste of fixed-count batches against token-budget batches (the default),
and the ``torch.profiler`` self-CPU time per operator of one encode. The CPU model and ISA flags are printed.

    nice python benchmarks/profile_encode.py --num_passages 200 --max_lengths 256 512
"""
from __future__ import annotations

import argparse
import logging
import time
from typing import List

from _common import minilm_path, scifact_passages


def padded_tokens(batches: List[List[int]], lengths: List[int]) -> int:
    """Tokens the forward pass computes: each batch padded to its longest member."""
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_passages", type=int, default=200)
    parser.add_argument("--max_lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--rows", type=int, default=14, help="operators shown")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from torch.profiler import ProfilerActivity, profile

    from FlagEmbedding import FlagModel
    from FlagEmbedding.abc.inference.batching import run_length_sorted
    from FlagEmbedding.abc.inference.cpu_info import cpu_description

    texts = scifact_passages(args.num_passages)
    model = FlagModel(minilm_path(), pooling_method="mean", devices="cpu")
    print(f"CPU: {cpu_description()}; {len(texts)} SciFact passages")
    for max_length in args.max_lengths:
        start = time.perf_counter()
        lengths = [len(ids) for ids in model.tokenize(texts, max_length)["input_ids"]]
        tokenize_seconds = time.perf_counter() - start
        print(f"\nmax_length={max_length}: {sum(lengths)} real tokens")
        for batch_size in args.batch_sizes:
            fixed = [list(range(i, min(i + batch_size, len(lengths)))) for i in range(0, len(lengths), batch_size)]
            order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
            fixed = [[order[i] for i in batch] for batch in fixed]
            _, budget = run_length_sorted(lengths, batch_size, lambda b: None, show_progress=False, device="cpu")
            for name, batches in (("fixed-count", fixed), ("token-budget", budget)):
                padded = padded_tokens(batches, lengths)
                print(f"  batch_size={batch_size:<4} {name:<13} padded tokens {padded:>8}  "
                      f"waste {100 * (padded - sum(lengths)) / padded:5.1f}%  batches {len(batches)}")
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            model.encode_corpus(texts, max_length=max_length)
            encode_seconds = time.perf_counter() - start
        print(f"  tokenization {tokenize_seconds:.2f}s = {100 * tokenize_seconds / encode_seconds:.1f}% of the "
              f"encode ({encode_seconds:.1f}s, profiler on)")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
