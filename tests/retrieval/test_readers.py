"""The file readers (FlagEmbedding/retrieval/readers.py): one rule per field for every reader, each error naming
the file and line, reached through a custom-data run (before any model loads) or called directly."""
from __future__ import annotations

import json
import os

import pytest

from tests.helpers.benchmarks import run_custom, write_beir_layout, write_library_layout


def test_bad_corpus_line(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"))
    with open(os.path.join(folder, "corpus.jsonl"), "a") as f:
        f.write('{"title": "no id", "text": "x"}\n')
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path)
    assert str(error.value) == f"{folder}/corpus.jsonl, line 9: missing field 'id' or '_id'."


def _write_text(path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _run_error(folder, tmp_path) -> str:
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path)
    return str(error.value)


def _error_after_appending(folder: str, name: str, data, tmp_path) -> str:
    """The run's error once ``data`` (text, or raw bytes) is appended to ``folder/name``."""
    with open(os.path.join(folder, name), "ab") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return _run_error(folder, tmp_path)


def test_fractional_relevance_is_rejected_by_both_qrels_readers(tmp_path):
    own = write_library_layout(str(tmp_path / "own"))
    row = '{"qid": "q1", "docid": "d1", "relevance": 0.5}\n'
    assert _error_after_appending(own, "test_qrels.jsonl", row, tmp_path) == (
        f"{own}/test_qrels.jsonl, line 6: relevance 0.5 is not an integer (grades are whole numbers such as 0, 1, 2).")
    beir = write_beir_layout(str(tmp_path / "beir"))
    assert _error_after_appending(beir, "qrels/test.tsv", "q1\td1\t0.5\n", tmp_path) == (
        f"{beir}/qrels/test.tsv, line 7: relevance '0.5' is not an integer (grades are whole numbers such as 0, 1, 2).")


def test_integral_relevance_reads_the_same_in_both_formats(tmp_path):
    from FlagEmbedding.retrieval.readers import read_qrels_jsonl, read_qrels_tsv

    jsonl, tsv = tmp_path / "q.jsonl", tmp_path / "q.tsv"
    _write_text(jsonl, '{"qid": "q", "docid": "a", "relevance": 2.0}\n{"qid": "q", "docid": "b", "relevance": "1"}\n')
    _write_text(tsv, "query-id\tcorpus-id\tscore\nq\ta\t2.0\nq\tb\t1\n")
    assert read_qrels_jsonl(str(jsonl)) == read_qrels_tsv(str(tsv)) == {"q": {"a": 2, "b": 1}}


def test_duplicated_qrels_pair_is_rejected_naming_both_lines(tmp_path):
    from FlagEmbedding.retrieval.readers import read_qrels_jsonl, read_qrels_tsv

    jsonl, tsv = tmp_path / "q.jsonl", tmp_path / "q.tsv"
    _write_text(jsonl, '{"qid": "q", "docid": "a", "relevance": 1}\n\n{"qid": "q", "docid": "a", "relevance": 0}\n')
    _write_text(tsv, "q\ta\t1\nq\ta\t1\n")
    with pytest.raises(ValueError, match=rf"^{jsonl}, line 3: query 'q' and document 'a' are already judged on line "
                                         r"1; keep one judgement per pair\.$"):
        read_qrels_jsonl(str(jsonl))
    with pytest.raises(ValueError, match=rf"^{tsv}, line 2: query 'q' and document 'a' are already judged on line 1"):
        read_qrels_tsv(str(tsv))


def test_header_only_qrels_blames_the_qrels_file(tmp_path):
    folder = write_beir_layout(str(tmp_path / "beir"))
    _write_text(os.path.join(folder, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\n")
    assert _run_error(folder, tmp_path) == f"{folder}/qrels/test.tsv: no relevance judgements."


@pytest.mark.parametrize("row,message", [
    ({"id": "d9", "text": 5}, "'text' must be a string, got int (5)."),
    ({"id": "d9", "title": ["a"], "text": "x"}, "'title' must be a string, got list (['a'])."),
    ({"id": {"a": 1}, "text": "x"}, "'id' must be a string, got dict."),
])
def test_non_string_fields_are_rejected_not_turned_into_reprs(tmp_path, row, message):
    folder = write_library_layout(str(tmp_path / "d"))
    assert _error_after_appending(folder, "corpus.jsonl", json.dumps(row) + "\n", tmp_path) == (
        f"{folder}/corpus.jsonl, line 9: {message}")


def test_non_utf8_bytes_and_lone_surrogates_name_file_and_line(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"))
    assert _error_after_appending(folder, "corpus.jsonl", b'{"id": "d9", "text": "caf\xe9"}\n', tmp_path) == (
        f"{folder}/corpus.jsonl, line 9: not valid UTF-8 (byte 0xe9 at column 26); re-save the file as UTF-8.")
    folder = write_library_layout(str(tmp_path / "s"))
    row = '{"id": "q9", "text": "smile \\ud83d"}\n'
    assert _error_after_appending(folder, "test_queries.jsonl", row, tmp_path) == (
        f"{folder}/test_queries.jsonl, line 4: the text holds a lone surrogate ('\\ud83d'), which is not a character; "
        "fix the escape in the file.")
    beir = write_beir_layout(str(tmp_path / "beir"))
    assert _error_after_appending(beir, "qrels/test.tsv", b"q1\td\xff1\t1\n", tmp_path) == (
        f"{beir}/qrels/test.tsv, line 7: not valid UTF-8 (byte 0xff at column 5); re-save the file as UTF-8.")
