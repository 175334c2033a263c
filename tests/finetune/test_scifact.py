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


def run_example(scifact: str, minilm: str, tmp_path, kind: str) -> dict:
    """The smoke version of the example (48 queries, 300-document pool, no evaluation); its result JSON."""
    result_file = tmp_path / f"result-{kind}.json"
    run_subprocess([sys.executable, os.path.join(REPO, "examples", "finetune", "scifact", "run.py"),
                    "--scifact_dir", scifact, "--model", minilm, "--work_dir", str(tmp_path / "work"),
                    "--max_train_queries", "48", "--pool_size", "300", "--batch_size", "16", "--kind", kind,
                    "--passage_max_len", "64", "--skip_eval", "--result_file", str(result_file)], timeout=900)
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
