"""scripts/add_reranker_score.py: teacher scores aligned with pos/neg, ASCII-escaped output."""
from __future__ import annotations

import json
import logging
import re

import pytest

from FlagEmbedding.finetune.data_scripts.add_reranker_score import add_scores, main
from tests.helpers.files import write_jsonl
from tests.helpers.training import record


class CountingReranker:
    """Score of the n-th pair is n."""

    def __init__(self):
        self.calls = []

    def compute_score(self, pairs):
        self.calls.append(pairs)
        return [float(i) for i in range(len(pairs))]


def test_scores_follow_records_pos_then_neg():
    reranker = CountingReranker()
    records = [{"query": "a", "pos": ["p1", "p2"], "neg": ["n1"]}, {"query": "b", "pos": ["p3"], "neg": []}]
    scored = add_scores(reranker, records)
    assert len(reranker.calls) == 1  # one compute_score call for all pairs
    assert reranker.calls[0] == [["a", "p1"], ["a", "p2"], ["a", "n1"], ["b", "p3"]]
    assert [(s["pos_scores"], s["neg_scores"]) for s in scored] == [([0.0, 1.0], [2.0]), ([3.0], [])]


def test_cli_with_a_real_reranker(tiny_reranker, tmp_path, caplog):
    from FlagEmbedding import FlagReranker

    records = [record(i, num_neg=2) for i in range(3)]
    records[1]["query"] = "café panda"
    source = write_jsonl(str(tmp_path / "in.jsonl"), records)
    output = tmp_path / "out.jsonl"
    with caplog.at_level(logging.INFO, logger="FlagEmbedding.finetune.data_scripts.add_reranker_score"):
        main(["--input_file", source, "--output_file", str(output), "--reranker_name_or_path", tiny_reranker,
              "--devices", "cpu", "--use_fp16", "False", "--reranker_max_length", "64"])
    assert re.fullmatch(rf"wrote {re.escape(str(output))} \(3 records\), 9 pairs scored, \d+\.\d s",
                        caplog.records[-1].getMessage())
    raw = output.read_text(encoding="utf-8")
    assert "caf\\u00e9 panda" in raw  # ASCII-escaped
    scored = [json.loads(line) for line in raw.splitlines()]
    reference = FlagReranker(tiny_reranker, devices="cpu", max_length=64)
    for original, result in zip(records, scored):
        expected = reference.compute_score([[original["query"], p] for p in original["pos"] + original["neg"]])
        assert result["pos_scores"] + result["neg_scores"] == pytest.approx(expected, abs=1e-5)
        assert len(result["pos_scores"]) == 1 and len(result["neg_scores"]) == 2
