"""Where fp32 CPU encode time goes: tokenization, padding waste, token budgets and the operator breakdown.

all-MiniLM-L6-v2 (mean pooling) on SciFact passages at each ``--max_lengths``: the tokenization time against
the encode time, the padded-token waste of fixed-count batches against token-budget batches (the default),
the forward-pass time of the length-sorted passages cut into each of ``--budgets`` padded tokens per batch with
the stock torch linears and with oneDNN linears (:func:`~FlagEmbedding.backends.onednn.onednn_linears`,
the default), best of ``--repeats`` interleaved rounds, beside the budget
:func:`~FlagEmbedding.abc.inference.batching.cpu_token_budget` picks on this CPU, and the ``torch.profiler``
self-CPU time per operator of one encode. The CPU model, ISA flags and last-level cache size are printed.

    nice python benchmarks/profile_encode.py --num_passages 200 --max_lengths 256 512
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import time
from typing import Dict, List

from _common import add_json_argument, minilm_path, scifact_passages, write_results


def padded_tokens(batches: List[List[int]], lengths: List[int]) -> int:
    """Tokens the forward pass computes: each batch padded to its longest member."""
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def forward_seconds_by_budget(model, features, lengths: List[int], budgets: List[int],
                              repeats: int) -> Dict[str, Dict[int, float]]:
    """Best-of-``repeats`` forward time of all inputs, longest first, in batches of each padded-token budget,
    with the stock linears and with oneDNN linears."""
    import torch

    from FlagEmbedding.backends.onednn import onednn_linears

    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    timings: Dict[str, Dict[int, float]] = {"stock": {}, "oneDNN": {}}
    for _ in range(repeats):
        for budget in budgets:
            rows = max(1, budget // lengths[order[0]])
            batches = [model.pad_batch(features, order[i:i + rows], "cpu") for i in range(0, len(order), rows)]
            for path, context in (("stock", contextlib.nullcontext), ("oneDNN", onednn_linears)):
                with torch.inference_mode(), (context(model.model, "cpu") if path == "oneDNN" else context()):
                    start = time.perf_counter()
                    for batch in batches:
                        model.model(**batch)
                    seconds = time.perf_counter() - start
                timings[path][budget] = min(seconds, timings[path].get(budget, float("inf")))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_passages", type=int, default=200)
    parser.add_argument("--max_lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--budgets", type=int, nargs="*", default=[1024, 2048, 4096, 8192, 16384],
                        help="padded tokens per forward pass to time (none: skip)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds of the budget timings")
    parser.add_argument("--rows", type=int, default=14, help="operators shown")
    add_json_argument(parser)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from torch.profiler import ProfilerActivity, profile

    from FlagEmbedding import FlagModel
    from FlagEmbedding.abc.inference.batching import cpu_token_budget, run_length_sorted
    from FlagEmbedding.backends.cpu_info import cpu_description, last_level_cache_bytes

    texts = scifact_passages(args.num_passages)
    model = FlagModel(minilm_path(), pooling_method="mean", devices="cpu")
    cache = last_level_cache_bytes()
    width = model.model.config.intermediate_size
    print(f"CPU: {cpu_description()}; last-level cache {cache and cache >> 20} MiB; {len(texts)} SciFact passages")
    print(f"CPU token budget for feed-forward width {width}: {cpu_token_budget(width)}")
    rows: List[Dict[str, object]] = []
    for max_length in args.max_lengths:
        start = time.perf_counter()
        features = model.tokenize(texts, max_length)
        lengths = [len(ids) for ids in features["input_ids"]]
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
                rows.append({"max_length": max_length, "batch_size": batch_size, "batching": name,
                             "padded_tokens": padded, "real_tokens": sum(lengths), "batches": len(batches)})
        if args.budgets:
            timings = forward_seconds_by_budget(model, features, lengths, args.budgets, args.repeats)
            base = timings["stock"][max(args.budgets)]
            print(f"  forward seconds by padded tokens per batch (speed-up against stock at {max(args.budgets)}):")
            for path, by_budget in timings.items():
                print(f"    {path:<7}" + "".join(f"  {budget:>6}: {seconds:6.2f} ({base / seconds:.2f}x)"
                                              for budget, seconds in by_budget.items()))
                rows += [{"max_length": max_length, "path": path, "padded_tokens_per_batch": budget,
                          "forward_seconds": seconds, "speedup_vs_stock_at_max_budget": base / seconds}
                         for budget, seconds in by_budget.items()]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            model.encode_corpus(texts, max_length=max_length)
            encode_seconds = time.perf_counter() - start
        print(f"  tokenization {tokenize_seconds:.2f}s = {100 * tokenize_seconds / encode_seconds:.1f}% of the "
              f"encode ({encode_seconds:.1f}s, profiler on)")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
        rows.append({"max_length": max_length, "tokenize_seconds": tokenize_seconds,
                     "encode_seconds_profiled": encode_seconds})
    write_results(args.json, "profile_encode", rows, passages=len(texts))


if __name__ == "__main__":
    main()
