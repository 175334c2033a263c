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

from tests.helpers import REPO
from tests.helpers.training import run_subprocess

pytestmark = pytest.mark.slow


def test_scifact_pipeline_smoke(scifact, minilm, tmp_path):
    result_file = tmp_path / "result.json"
    run_subprocess([sys.executable, os.path.join(REPO, "examples", "finetune", "scifact", "run.py"),
                    "--scifact_dir", scifact, "--model", minilm, "--work_dir", str(tmp_path / "work"),
                    "--max_train_queries", "48", "--pool_size", "300", "--batch_size", "16",
                    "--passage_max_len", "64", "--skip_eval", "--result_file", str(result_file)], timeout=900)
    result = json.loads(result_file.read_text())
    mined = [json.loads(line) for line in open(tmp_path / "work" / "train_minedHN.jsonl")]
    assert len(mined) == 48
    for row in mined:
        assert len(row["neg"]) == 15 and not set(row["neg"]) & set(row["pos"])
    from FlagEmbedding import FlagModel

    texts = ["Vitamin D deficiency and bone health.", "0-dimensional biomaterials lack inductive properties."]
    tuned = FlagModel(result["model_dir"], pooling_method="mean", devices="cpu", use_fp16=False).encode(texts)
    base = FlagModel(minilm, pooling_method="mean", devices="cpu", use_fp16=False).encode(texts)
    assert tuned.shape == base.shape == (2, 384)
    assert not np.allclose(tuned, base, atol=1e-4)
