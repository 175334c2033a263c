"""scripts/hn_mine.py: ranks used for sampling, exclusions, top-up, output format."""
from __future__ import annotations

import json
import logging
import os
import random
import re
import sys

import numpy as np
import pytest

from FlagEmbedding.finetune.data_scripts.hn_mine import main, mine_hard_negatives, parse_range
from tests.helpers import REPO
from tests.helpers.files import write_jsonl
from tests.helpers.training import record, run_subprocess


class RankedEmbedder:
    """Corpus text ``c<k>`` scores ``1 - k/100`` against every query: rank k (the query text scores highest)."""

    def encode_corpus(self, texts):
        return np.array([[1.0, 0.0] if t == "Q" else [1 - int(t[1:]) / 100, 0.0] for t in texts], dtype=np.float32)

    def encode_queries(self, texts):
        return np.array([[1.0, 0.0] for _ in texts], dtype=np.float32)


CORPUS = ["Q"] + [f"c{k}" for k in range(10)]


def test_negatives_come_from_the_sampling_range_minus_positives_and_query():
    random.seed(0)
    records = [{"query": "Q", "pos": ["c2"], "neg": ["old"], "extra": 1}]
    mined = mine_hard_negatives(RankedEmbedder(), records, CORPUS, range_for_sampling="1-6", negative_number=3)
    # ranks 1..5 are c0..c4 (rank 0 is the query text itself); c2 is a positive
    assert len(mined[0]["neg"]) == 3 and set(mined[0]["neg"]) <= {"c0", "c1", "c3", "c4"}
    assert mined[0]["extra"] == 1 and records[0]["neg"] == ["old"]


def test_too_few_candidates_are_topped_up_without_duplicates_or_query():
    for seed in range(20):
        random.seed(seed)
        mined = mine_hard_negatives(RankedEmbedder(), [{"query": "Q", "pos": ["c2"]}], CORPUS,
                                    range_for_sampling="0-3", negative_number=6)
        negs = mined[0]["neg"]
        assert negs[:2] == ["c0", "c1"]  # in-range candidates first (Q and c2 excluded)
        assert len(negs) == 6 and len(set(negs)) == 6 and not {"Q", "c2"} & set(negs)


def test_small_corpus_gives_what_it_has():
    mined = mine_hard_negatives(RankedEmbedder(), [{"query": "Q", "pos": ["c0"], "neg": ["c1"]}], None,
                                range_for_sampling="0-100", negative_number=15)
    assert mined[0]["neg"] == ["c1"]


@pytest.mark.parametrize("text", ["10", "5-5", "a-b", "-1-3"])
def test_bad_range_is_a_clear_error(text):
    with pytest.raises(ValueError, match="range_for_sampling"):
        parse_range(text)


def test_cli_with_a_real_embedder(tiny_bert, tmp_path):
    records = [record(i, num_neg=2, scores=True) for i in range(4)]
    records[0]["query"] = "café panda"
    source = write_jsonl(str(tmp_path / "in.jsonl"), records)
    pool = write_jsonl(str(tmp_path / "pool.jsonl"), [{"text": f"pool passage number {i}"} for i in range(12)])
    output = tmp_path / "out.jsonl"
    process = run_subprocess([sys.executable, os.path.join(REPO, "scripts", "hn_mine.py"),
        "--input_file", source, "--output_file", str(output), "--candidate_pool", pool,
        "--embedder_name_or_path", tiny_bert, "--range_for_sampling", "2-8", "--negative_number", "4",
        "--devices", "cpu", "--use_fp16", "False", "--query_instruction_format_for_retrieval", "{}\\n{}"])
    raw = output.read_text(encoding="utf-8")
    assert "café panda" in raw  # non-ASCII kept
    mined = [json.loads(line) for line in raw.splitlines()]
    assert [m["query"] for m in mined] == [r["query"] for r in records]
    for original, result in zip(records, mined):
        assert result["pos"] == original["pos"] and result["neg_scores"] == original["neg_scores"]
        assert len(result["neg"]) == 4 and len(set(result["neg"])) == 4
        assert all(n.startswith("pool passage number") for n in result["neg"])
    last = process.stderr.rstrip("\n").splitlines()[-1]  # the one-line summary closes the log
    assert re.search(rf" - INFO - FlagEmbedding\.finetune\.data_scripts\.hn_mine - wrote {re.escape(str(output))} "
                     rf"\(4 records\) and {re.escape(str(output))}\.stats\.json, median 4 negatives per query, "
                     r"\d+\.\d s$", last), last


def test_main_parses_documented_flags(tmp_path):
    with pytest.raises(SystemExit):
        main(["--input_file", "x", "--output_file", "y", "--embedder_name_or_path", "m",
              "--embedder_model_class", "not-a-class"])


def test_unused_search_batch_size_is_accepted_with_a_warning(monkeypatch, caplog):
    from FlagEmbedding.finetune.data_scripts import hn_mine

    calls = []
    monkeypatch.setattr(hn_mine, "run", lambda data_args, model_args: calls.append(data_args.search_batch_size))
    with caplog.at_level(logging.WARNING, logger="FlagEmbedding.abc.finetune.common.arguments"):
        main(["--input_file", "x", "--output_file", "y", "--embedder_name_or_path", "m", "--search_batch_size", "8"])
    assert calls == [8]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("FlagEmbedding")] == [
        "--search_batch_size has no effect (accepted for compatibility): the exact search batches the queries itself."]


def test_bad_input_bytes_and_candidate_pool_fail_before_any_model_loads(tmp_path):
    """The embedder path does not exist: reaching it would be a different error, so the data is checked first."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"query": "q", "pos": ["p\xff"]}\n')
    argv = ["--input_file", str(source), "--output_file", str(tmp_path / "o.jsonl"), "--embedder_name_or_path",
            str(tmp_path / "no-model")]
    with pytest.raises(ValueError, match=rf"^{source}, line 1: not valid UTF-8 \(byte 0xff at column 26\)"):
        main(argv)
    source.write_text('{"query": "q", "pos": ["p"]}\n', encoding="utf-8")
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "fine"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{pool}, line 2: 'text' must be a string, got int\.$"):
        main(argv + ["--candidate_pool", str(pool)])
