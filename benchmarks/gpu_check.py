"""GPU checks run by ``gpu_check.sh``: fp16 parity with fp32, encode / rerank throughput, the multi-GPU pool.

On ``cuda:0`` with all-MiniLM-L6-v2 and SciFact passages: max |cos-1| of fp16 against fp32 embeddings (must be
at most 1e-3) and max |diff| of fp16 against fp32 reranker logits (at most 2e-2); passages/s and pairs/s of ours
in fp16 against the original FlagEmbedding 1.4.2 (``--orig_python``) in the same run; passages/s with every
visible GPU through the worker pool against one GPU. Exits 1 when a parity bound fails.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile

import numpy as np
import torch

from _common import ORIGINAL_PYTHON, minilm_path, original_available, run_original, scifact_passages, timed
from encode_throughput import cosine_deviation
from rerank_throughput import build_cross_encoder, scifact_pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_passages", type=int, default=5000)
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--orig_python", default=ORIGINAL_PYTHON)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if not torch.cuda.is_available():
        print("error: no CUDA device visible; run gpu_check.sh on a GPU machine", file=sys.stderr)
        return 2
    from FlagEmbedding import FlagModel, FlagReranker

    gpus = torch.cuda.device_count()
    print(f"GPUs: {gpus} x {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    texts, pairs = scifact_passages(args.num_passages), scifact_pairs(min(args.num_passages, 2000))
    size = dict(batch_size=args.batch_size)
    ok = True

    fp32 = FlagModel(minilm_path(), pooling_method="mean", devices="cuda:0", use_fp16=False, **size)
    fp16 = FlagModel(minilm_path(), pooling_method="mean", devices="cuda:0", use_fp16=True, **size)
    fp16.encode(texts[:64])
    seconds, vectors16 = timed(lambda: fp16.encode_corpus(texts, max_length=args.max_length))
    deviation = cosine_deviation(vectors16.astype(np.float32), fp32.encode_corpus(texts, max_length=args.max_length))
    ok &= deviation <= 1e-3
    print(f"embedder fp16 vs fp32: max |cos-1| {deviation:.2e} (bound 1e-3); ours fp16 {len(texts) / seconds:.0f} passages/s")
    has_original = original_available(args.orig_python)
    if has_original:
        orig_seconds, _ = run_original(args.orig_python, "embedder", minilm_path(), texts, args.max_length,
                                       args.batch_size, devices="cuda:0", use_fp16=True)
        print(f"original 1.4.2 fp16 {len(texts) / orig_seconds:.0f} passages/s; ours/original {orig_seconds / seconds:.2f}x")

    with tempfile.TemporaryDirectory() as folder:
        build_cross_encoder(folder)
        r32 = FlagReranker(folder, devices="cuda:0", max_length=args.max_length, **size)
        r16 = FlagReranker(folder, devices="cuda:0", use_fp16=True, max_length=args.max_length, **size)
        r16.compute_score(pairs[:64])
        seconds, scores16 = timed(lambda: np.asarray(r16.compute_score(pairs)))
        score_diff = float(np.max(np.abs(scores16 - np.asarray(r32.compute_score(pairs)))))
        ok &= score_diff <= 2e-2
        print(f"reranker fp16 vs fp32: max |diff| {score_diff:.2e} (bound 2e-2); ours fp16 {len(pairs) / seconds:.0f} pairs/s")
        if has_original:
            orig_seconds, _ = run_original(args.orig_python, "reranker", folder, pairs, args.max_length,
                                           args.batch_size, devices="cuda:0", use_fp16=True)
            print(f"original 1.4.2 fp16 {len(pairs) / orig_seconds:.0f} pairs/s; ours/original {orig_seconds / seconds:.2f}x")

    if gpus > 1:
        pool = FlagModel(minilm_path(), pooling_method="mean", devices=list(range(gpus)), use_fp16=True, **size)
        pool.encode_corpus(texts[:256], max_length=args.max_length)  # starts the workers
        pool_seconds, pooled = timed(lambda: pool.encode_corpus(texts, max_length=args.max_length))
        pool.stop_self_pool()
        print(f"pool of {gpus} GPUs: {len(texts) / pool_seconds:.0f} passages/s = {seconds / pool_seconds:.2f}x"
              f" one GPU; max |cos-1| vs one GPU {cosine_deviation(pooled, vectors16.astype(np.float32)):.2e}")
    else:
        print("one GPU visible: multi-GPU pool not measured")
    print("PASS" if ok else "FAIL: a parity bound was exceeded")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
