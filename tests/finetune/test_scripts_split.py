"""scripts/split_data_by_length.py: ranges, file names, log lines, extra fields, overwrite."""
from __future__ import annotations

import json
import os

import pytest

from FlagEmbedding.finetune.data_scripts.split_data_by_length import length_ranges, main
from tests.helpers.files import write_jsonl


def rows_of(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_split_by_longest_text(tiny_bert, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    short = {"query": "panda", "pos": ["a bear"], "neg": ["dog"], "prompt": "P", "type": "normal"}
    long_neg = {"query": "panda", "pos": ["bear"], "neg": [" ".join(["panda"] * 12)], "category": "x"}
    longest = {"query": " ".join(["panda"] * 30), "pos": ["bear"], "neg": []}
    source = write_jsonl(str(tmp_path / "in" / "data.jsonl"), [short, long_neg, longest])
    write_jsonl(str(tmp_path / "in" / "skipped.json"), [short])
    out = tmp_path / "out"
    main(["--input_path", str(tmp_path / "in"), "--output_dir", str(out), "--length_list", "10", "0", "20",
          "--model_name_or_path", tiny_bert, "--num_proc", "1"])
    lengths = [max(len(tokenizer(t)["input_ids"]) for t in [r["query"], *r["pos"], *r["neg"]])
               for r in (short, long_neg, longest)]
    assert lengths[0] < 10 <= lengths[1] < 20 <= lengths[2]
    assert sorted(os.listdir(out)) == [".split_log", "data_len-0-10.jsonl", "data_len-10-20.jsonl",
                                       "data_len-20-inf.jsonl"]
    assert [r["query"] for r in rows_of(out / "data_len-0-10.jsonl")] == ["panda"]
    assert rows_of(out / "data_len-0-10.jsonl")[0]["prompt"] == "P"  # extra fields are kept
    assert rows_of(out / "data_len-10-20.jsonl")[0]["category"] == "x"
    log = [json.loads(line) for line in open(out / ".split_log")]
    assert len(log) == 1
    assert {k: log[0][k] for k in ("file_name", "size", "file_path", "split_info")} == {
        "file_name": "data.jsonl", "size": 3, "file_path": source,
        "split_info": {"len-0-10": 1, "len-10-20": 1, "len-20-inf": 1}}
    assert log[0]["avg_length"] == pytest.approx(sum(lengths) / 3)
    assert set(log[0]) == {"file_name", "size", "avg_length", "file_path", "start_time", "end_time", "split_info"}

    (out / "data_len-0-10.jsonl").write_text("keep\n")
    main(["--input_path", source, "--output_dir", str(out), "--length_list", "0", "10", "20",
          "--model_name_or_path", tiny_bert, "--num_proc", "1"])
    assert (out / "data_len-0-10.jsonl").read_text() == "keep\n"
    assert len(open(out / ".split_log").readlines()) == 2
    main(["--input_path", source, "--output_dir", str(out), "--length_list", "0", "10", "20",
          "--model_name_or_path", tiny_bert, "--num_proc", "1", "--overwrite"])
    assert [r["query"] for r in rows_of(out / "data_len-0-10.jsonl")] == ["panda"]


def test_length_list_must_be_distinct_and_non_negative():
    assert length_ranges([5, 0]) == [(0, 5), (5, float("inf"))]
    with pytest.raises(ValueError, match="length_list must hold distinct non-negative values"):
        length_ranges([0, 5, 5])
    with pytest.raises(ValueError, match="length_list must hold distinct non-negative values"):
        length_ranges([-1, 5])
