"""Encode SciFact passages with all-MiniLM-L6-v2: ours vs the original FlagEmbedding 1.4.2, same inputs and outputs.

Kinds: ``embedder`` (``FlagModel``, mean pooling) and ``m3`` (``BGEM3FlagModel`` dense + sparse + ColBERT on the
same encoder with seeded heads). The baseline is the original FlagEmbedding 1.4.2 run in its own interpreter
(``--orig_python``: a venv with ``FlagEmbedding==1.4.2 'transformers<4.57'``); without one the embedder baseline
is sentence-transformers (said in the output). ``--extra`` adds our opt-in engines (bf16, ONNX Runtime fp32 and
int8, OpenVINO f32 when ``openvino`` is installed); ``--fastembed_python`` adds fastembed (its own venv) running
our exported ONNX graph with its own tokenization, batching and pooling; ``--infinity_python`` adds infinity-emb
(its own venv; torch engine, its defaults) on the same sentence-transformers folder. Engines run interleaved
(A B A B ...), best of ``--repeats``.
Prints the CPU model and ISA flags, passages/s, the ratio against the baseline, and the output deviation
(max |cos-1| of dense and ColBERT vectors, max |diff| of sparse weights).

    nice python benchmarks/encode_throughput.py --num_passages 400 --max_lengths 256 512 --kinds embedder m3
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, Tuple

import numpy as np
import torch

from _common import (FASTEMBED_PYTHON, INFINITY_PYTHON, ORIGINAL_PYTHON, add_json_argument, interleaved_best,
                     minilm_path, original_available, print_ratio_table, run_original, run_worker, scifact_passages,
                     sentence_transformers_folder, timed, write_results)


def cosine_deviation(a: np.ndarray, b: np.ndarray) -> float:
    """max |cos(a_i, b_i) - 1| over rows."""
    cos = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(np.max(np.abs(cos - 1)))


def m3_deviation(ours: Dict[str, Any], reference: Dict[str, Any]) -> str:
    """Dense and ColBERT max |cos-1| and sparse max |weight diff| (keys must match) as one string."""
    colbert = max(cosine_deviation(a, b) for a, b in zip(ours["colbert"], reference["colbert"]))
    sparse = 0.0
    for a, b in zip(ours["sparse"], reference["sparse"]):
        if set(a) != set(b):
            return "sparse keys differ"
        sparse = max([sparse] + [abs(float(a[k]) - float(b[k])) for k in a])
    return f"dense {cosine_deviation(ours['dense'], reference['dense']):.1e} colbert {colbert:.1e} sparse {sparse:.1e}"


def build_m3_folder(folder: str) -> str:
    """all-MiniLM-L6-v2 plus seeded ``colbert_linear.pt`` / ``sparse_linear.pt`` heads (an M3-shaped checkpoint)."""
    shutil.copytree(minilm_path(), folder, dirs_exist_ok=True)
    torch.manual_seed(0)
    for name, width in (("colbert_linear.pt", 384), ("sparse_linear.pt", 1)):
        torch.save(torch.nn.Linear(384, width).state_dict(), os.path.join(folder, name))
    return folder


def fastembed_folder(folder: str, onnx_path: str, max_length: int) -> str:
    """A fastembed model folder: all-MiniLM-L6-v2's tokenizer files (truncating at ``max_length``) and the ONNX
    graph at ``onnx_path`` as ``onnx/model.onnx``."""
    os.makedirs(os.path.join(folder, "onnx"), exist_ok=True)
    for name in ("config.json", "special_tokens_map.json", "tokenizer.json", "vocab.txt"):
        shutil.copy(os.path.join(minilm_path(), name), folder)
    with open(os.path.join(minilm_path(), "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({**config, "model_max_length": max_length}, f)
    shutil.copy(onnx_path, os.path.join(folder, "onnx", "model.onnx"))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_passages", type=int, default=400)
    parser.add_argument("--max_lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--kinds", nargs="+", default=["embedder", "m3"], choices=["embedder", "m3"])
    parser.add_argument("--batch_size", type=int, default=256, help="the original's default")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds; best per engine")
    parser.add_argument("--orig_python", default=ORIGINAL_PYTHON)
    parser.add_argument("--extra", nargs="*", default=["bf16", "onnx", "onnx-int8"],
                        choices=["bf16", "onnx", "onnx-int8", "openvino"],
                        help="our opt-in engines to add (embedder only; openvino needs FlagEmbedding[openvino])")
    parser.add_argument("--fastembed_python", default=None,
                        help=f"interpreter of a venv with fastembed and onnxruntime (e.g. {FASTEMBED_PYTHON}): adds "
                             "fastembed on our exported ONNX graph (embedder only)")
    parser.add_argument("--infinity_python", default=None,
                        help=f"interpreter of a venv with infinity-emb[torch] (e.g. {INFINITY_PYTHON}): adds "
                             "infinity's torch engine on the same model folder (embedder only)")
    add_json_argument(parser)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from FlagEmbedding import BGEM3FlagModel, FlagModel
    from FlagEmbedding.backends.cpu_info import cpu_bf16_speedup, cpu_description

    texts = scifact_passages(args.num_passages)
    has_original = original_available(args.orig_python)
    print(f"CPU: {cpu_description()}; bf16/fp32 matmul speed (probe): {cpu_bf16_speedup():.2f}x")
    print(f"{len(texts)} SciFact passages, batch_size={args.batch_size}, baseline: "
          f"{'original FlagEmbedding 1.4.2 (' + args.orig_python + ')' if has_original else 'sentence-transformers (no original venv)'}")
    work = tempfile.mkdtemp()
    rows = []
    try:
        m3_path = build_m3_folder(os.path.join(work, "m3"))
        size = dict(batch_size=args.batch_size)
        for kind in args.kinds:
            path = minilm_path() if kind == "embedder" else m3_path
            for max_length in args.max_lengths:
                engines: Dict[str, Callable[[], Tuple[float, Any]]] = {}
                if kind == "embedder":
                    ours = FlagModel(path, pooling_method="mean", devices="cpu", **size)
                    if has_original:
                        engines["original 1.4.2"] = lambda: (lambda r: (r[0], r[1]["dense"]))(
                            run_original(args.orig_python, "embedder", path, texts, max_length, args.batch_size))
                    else:
                        from sentence_transformers import SentenceTransformer

                        st = SentenceTransformer(path, device="cpu")
                        st.max_seq_length = max_length
                        engines["sentence-transformers"] = lambda: timed(lambda: st.encode(
                            texts, batch_size=args.batch_size, normalize_embeddings=True))
                    engines["ours fp32"] = lambda: timed(lambda: ours.encode_corpus(texts, max_length=max_length))
                    options = {"bf16": dict(use_bf16=True), "onnx": dict(backend="onnx"),
                               "onnx-int8": dict(backend="onnx", quantize="int8"), "openvino": dict(backend="openvino")}
                    for name in args.extra:
                        model = FlagModel(path, pooling_method="mean", devices="cpu", onnx_cache_dir=work,
                                          **size, **options[name])
                        model.encode(texts[:4])  # export outside the timing
                        engines[f"ours {name}"] = (lambda m: lambda: timed(
                            lambda: m.encode_corpus(texts, max_length=max_length)))(model)
                    if args.fastembed_python:
                        graph = FlagModel(path, pooling_method="mean", devices="cpu", onnx_cache_dir=work,
                                          backend="onnx", **size)
                        graph.encode(texts[:1])
                        folder = fastembed_folder(os.path.join(work, f"fastembed-{max_length}"),
                                                  graph.onnx_model.path, max_length)
                        engines["fastembed"] = (lambda f: lambda: (lambda r: (r[0], r[1]["dense"]))(run_worker(
                            args.fastembed_python, "_fastembed.py", texts, model=f, dim=384,
                            threads=torch.get_num_threads(), batch_size=args.batch_size)))(folder)
                    if args.infinity_python:
                        folder = sentence_transformers_folder(os.path.join(work, f"infinity-{max_length}"), max_length)
                        engines["infinity-emb"] = (lambda f: lambda: (lambda r: (r[0], r[1]["dense"]))(run_worker(
                            args.infinity_python, "_infinity.py", texts, model=f,
                            threads=torch.get_num_threads(), batch_size=args.batch_size)))(folder)
                    deviation = lambda a, b: f"max |cos-1| {cosine_deviation(a, b):.1e}"  # noqa: E731
                else:
                    ours = BGEM3FlagModel(path, devices="cpu", **size)
                    modes = dict(return_dense=True, return_sparse=True, return_colbert_vecs=True)

                    def run_ours() -> Tuple[float, Any]:
                        seconds, out = timed(lambda: ours.encode(texts, max_length=max_length, **modes))
                        return seconds, {"dense": out["dense_vecs"], "colbert": out["colbert_vecs"],
                                         "sparse": out["lexical_weights"]}

                    if has_original:
                        engines["original 1.4.2"] = lambda: run_original(
                            args.orig_python, "m3", path, texts, max_length, args.batch_size)
                    engines["ours fp32"] = run_ours
                    deviation = m3_deviation
                ours.encode(texts[:8])  # warm-up
                table = print_ratio_table(f"{kind} max_length={max_length}",
                                          interleaved_best(engines, args.repeats), len(texts), "passages/s", deviation)
                rows += [{"kind": kind, "max_length": max_length, "batch_size": args.batch_size,
                          "passages": len(texts), **row} for row in table]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(args.json, "encode_throughput", rows)


if __name__ == "__main__":
    main()
