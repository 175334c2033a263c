"""SciFact fine-tuning example (examples/finetune/scifact/run.py), smoke version.

The full run (809 queries, whole corpus, evaluation before/after) takes ~20 minutes on 2 CPU cores and is
reported in the docs; CI runs the same three-step pipeline on 48 queries and a 300-document mining pool.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

from tests.helpers import REPO
from tests.helpers.training import run_subprocess

pytestmark = pytest.mark.slow


def run_example(scifact: str, minilm: str, tmp_path, kind: str, *extra: str, queries: int = 48,
                pool: int = 300, batch_size: int = 16) -> dict:
    """The smoke version of the example (``queries`` queries, mining from their positives and ``pool`` documents,
    no evaluation); its result JSON."""
    result_file = tmp_path / f"result-{kind}{len(extra)}.json"
    run_subprocess([sys.executable, os.path.join(REPO, "examples", "finetune", "scifact", "run.py"),
                    "--scifact_dir", scifact, "--model", minilm, "--work_dir", str(tmp_path / "work"),
                    "--max_train_queries", str(queries), "--pool_size", str(pool), "--batch_size", str(batch_size),
                    "--kind", kind,
                    "--passage_max_len", "64", "--skip_eval", "--result_file", str(result_file), *extra],
                   timeout=900)
    return json.loads(result_file.read_text())


def test_scifact_pipeline_smoke(scifact, minilm, tmp_path):
    result = run_example(scifact, minilm, tmp_path, "base")
    assert result["mine_seconds"] > 0
    mined_rows = [json.loads(line) for line in open(tmp_path / "work" / "train_minedHN.jsonl")]
    assert len(mined_rows) == 48
    for row in mined_rows:
        assert len(row["neg"]) == 15 and not set(row["neg"]) & set(row["pos"])
    from FlagEmbedding import BGEM3FlagModel, FlagModel

    texts = ["Vitamin D deficiency and bone health.", "0-dimensional biomaterials lack inductive properties."]
    tuned = FlagModel(result["model_dir"], pooling_method="mean", devices="cpu", use_fp16=False).encode(texts)
    base = FlagModel(minilm, pooling_method="mean", devices="cpu", use_fp16=False).encode(texts)
    assert tuned.shape == base.shape == (2, 384)
    assert not np.allclose(tuned, base, atol=1e-4)

    # ``--kind m3`` in the same folder reuses the mined negatives and trains new sparse and ColBERT heads on MiniLM.
    mined = (tmp_path / "work" / "train_minedHN.jsonl").read_bytes()
    result = run_example(scifact, minilm, tmp_path, "m3")
    assert result["mine_seconds"] == 0.0
    assert (tmp_path / "work" / "train_minedHN.jsonl").read_bytes() == mined
    model = BGEM3FlagModel(result["model_dir"], pooling_method="mean", devices="cpu", use_fp16=False)
    for head in ("colbert_linear", "sparse_linear"):  # the trained heads, not new random ones, are loaded
        saved = torch.load(os.path.join(result["model_dir"], f"{head}.pt"), weights_only=True)
        for name, tensor in getattr(model.model, head).state_dict().items():
            assert torch.equal(tensor, saved[name])
    out = model.encode(["Vitamin D deficiency and bone health."], return_sparse=True, return_colbert_vecs=True)
    assert out["dense_vecs"].shape == (1, 384) and out["colbert_vecs"][0].shape[1] == 384


def test_scifact_filtered_recipe_smoke(scifact, minilm, tmp_path):
    """The filtered recipe at toy size (16 queries, 80-document pool): BM25-trained reranker check, a margin,
    top sampling, group 3, cached loss; every kept negative scores below the least similar positive on the
    embedder's and on the reranker's own scores (a relative margin would remove everything here: the barely trained
    reranker gives every pair nearly the same probability; queries left short of negatives are dropped)."""
    result = run_example(scifact, minilm, tmp_path, "base", "--run_name", "filtered", "--reranker",
                         "--reranker_group_size", "2", "--reranker_batch_size", "8", "--reranker_passage_max_len",
                         "64", "--absolute_margin", "0", "--sampling_strategy", "top",
                         "--negative_number", "4", "--underfilled", "drop", "--train_group_size", "3",
                         "--gradient_cache_chunk_size", "4", queries=16, pool=80, batch_size=4)
    assert result["mined_file"].endswith("train_minedHN-filtered.jsonl")
    assert not (tmp_path / "work" / "train_minedHN.jsonl").exists()  # no unfiltered mining was needed
    bm25_rows = [json.loads(line) for line in open(tmp_path / "work" / "train_bm25.jsonl")]
    # a query with no BM25 match at ranks 3-100 of the tiny pool is left out of the reranker's data
    assert 12 <= len(bm25_rows) <= 16
    assert all(row["neg"] and not set(row["neg"]) & set(row["pos"]) for row in bm25_rows)
    from FlagEmbedding import FlagModel, FlagReranker

    rows = [json.loads(line) for line in open(result["mined_file"])]
    assert len(rows) >= 4 and all(len(row["neg"]) == 4 and not set(row["neg"]) & set(row["pos"]) for row in rows)
    stats = json.loads(open(result["mined_file"] + ".stats.json").read())
    assert stats["scores"] == "reranker" and stats["records_written"] == len(rows) == 16 - stats["records_dropped"]
    embedder = FlagModel(minilm, pooling_method="mean", devices="cpu", use_fp16=False, query_max_length=256,
                         passage_max_length=256)
    reranker = FlagReranker(result["reranker_dir"], devices="cpu", use_fp16=False, normalize=True,
                            query_max_length=32, max_length=96)
    for row in rows[:8]:
        query = embedder.encode_queries([row["query"]])
        pos = (embedder.encode_corpus(row["pos"]) @ query.T).min()
        neg = embedder.encode_corpus(row["neg"]) @ query.T
        assert (neg < pos + 1e-5).all()
        pos_r = min(reranker.compute_score([[row["query"], p] for p in row["pos"]]))
        neg_r = reranker.compute_score([[row["query"], n] for n in row["neg"]])
        assert max(neg_r) < pos_r + 1e-6
    tuned = FlagModel(result["model_dir"], pooling_method="mean", devices="cpu", use_fp16=False)
    assert tuned.encode(["Vitamin D deficiency and bone health."]).shape == (1, 384)


def test_every_documented_variant_command_parses():
    """Each variant row of the example's README results table gives flags that ``run.py`` accepts (a renamed or
    removed option would make the documented command fail), each value converting to its option's type."""
    import re
    import runpy
    import shlex

    build_parser = runpy.run_path(os.path.join(REPO, "examples", "finetune", "scifact", "run.py"))["build_parser"]
    with open(os.path.join(REPO, "examples", "finetune", "scifact", "README.md"), encoding="utf-8") as f:
        results = f.read().split("## Results", 1)[1]
    commands = [match.group(1) for line in results.splitlines() if line.startswith("| ")
                for match in [re.search(r"`(--[^`]*)`", line.split(" | ")[1])] if match]
    assert len(commands) >= 7
    parser = build_parser()
    actions = parser._option_string_actions
    for command in commands:
        argv = shlex.split(command)
        args = parser.parse_args(["--work_dir", "W", *argv])
        for flag, value in zip(argv, argv[1:]):
            if flag.startswith("--") and not value.startswith("--"):
                action = actions[flag]
                assert getattr(args, action.dest) == (action.type or str)(value), (command, flag)
