"""``benchmarks/train_step.py``: the batch files passed to the original's worker, and its ``--orig_python`` check
(no timing: the figures live in the benchmark's output)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tests.helpers import REPO

BENCHMARKS = os.path.join(REPO, "benchmarks")


@pytest.fixture()
def train_steps(monkeypatch):
    """``benchmarks/_train_steps.py`` imported the way the benchmark scripts import it."""
    monkeypatch.syspath_prepend(BENCHMARKS)
    import _train_steps

    return _train_steps


def test_batches_round_trip_through_safetensors(train_steps, tmp_path):
    features = lambda rows, width: {  # noqa: E731
        "input_ids": torch.randint(0, 1000, (rows, width)),
        "attention_mask": torch.ones(rows, width, dtype=torch.long).tril(width // 2),
    }
    batches = [{"queries": features(2, 5), "passages": features(4, 7), "teacher_scores": None,
                "no_in_batch_neg_flag": False},
               {"queries": features(2, 3), "passages": features(4, 9), "teacher_scores": [1.0, 0.5],
                "no_in_batch_neg_flag": True}]
    path = str(tmp_path / "batches.safetensors")
    train_steps.save_batches(batches, path)
    loaded = train_steps.load_batches(path)
    assert len(loaded) == 2
    for original, copy in zip(batches, loaded):
        assert set(copy) == set(original)
        for group in ("queries", "passages"):
            assert set(copy[group]) == set(original[group])
            for name, tensor in original[group].items():
                assert torch.equal(copy[group][name], tensor) and copy[group][name].dtype == tensor.dtype
        assert copy["teacher_scores"] == original["teacher_scores"]
        assert copy["no_in_batch_neg_flag"] is original["no_in_batch_neg_flag"]
    expected = sum(int(b[g]["attention_mask"].sum()) for b in batches for g in ("queries", "passages"))
    assert train_steps.count_tokens(loaded) == expected


def test_orig_python_without_the_original_is_one_error_line(tmp_path):
    missing = str(tmp_path / "no-venv" / "bin" / "python")
    result = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "train_step.py"), "--orig_python", missing,
                             "--model", str(tmp_path)], capture_output=True, text=True, cwd=str(tmp_path),
                            env={**os.environ, "PYTHONPATH": REPO})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: --orig_python {missing} does not import an installed FlagEmbedding 1.4.2 with transformers 4.x; "
        "pass the python of the venv where it is installed"]
