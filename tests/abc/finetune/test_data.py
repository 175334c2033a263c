"""Training data: finding, checking and loading files, group sampling, instructions, same-dataset batches."""
from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter

import pytest

from FlagEmbedding.abc.finetune.common.data import list_data_files, sample_group, shuffle_text
from FlagEmbedding.abc.finetune.embedder import (
    AbsEmbedderDataArguments,
    AbsEmbedderSameDatasetTrainDataset,
    AbsEmbedderTrainDataset,
)
from tests.helpers.files import write_jsonl
from tests.helpers.training import PASSAGES, record


def data_args(paths, **kwargs) -> AbsEmbedderDataArguments:
    return AbsEmbedderDataArguments(train_data=[str(p) for p in paths], **kwargs)


# ---- finding and loading files ------------------------------------------------------------------------------
def test_list_data_files_reads_json_files_one_level_deep(tmp_path, caplog):
    for name in ("b.jsonl", "a.json", "notes.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.jsonl").write_text("")
    assert list_data_files(str(tmp_path)) == [str(tmp_path / "a.json"), str(tmp_path / "b.jsonl")]
    with caplog.at_level(logging.WARNING):
        assert list_data_files(str(tmp_path / "notes.txt")) == []
    assert "only .json / .jsonl files are read" in caplog.text


def test_missing_train_data_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_data: cannot find file or directory '.*nope.jsonl'"):
        data_args([tmp_path / "nope.jsonl"])


def test_typed_backslash_n_in_formats_becomes_newline(tmp_path):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0)])
    args = data_args([path], query_instruction_format="<instruct>{}\\n<query>{}", passage_instruction_format="{}\\n{}")
    assert args.query_instruction_format == "<instruct>{}\n<query>{}"
    assert args.passage_instruction_format == "{}\n{}"


def test_files_with_different_columns_are_concatenated_with_nulls(tmp_path, bert_tokenizer):
    write_jsonl(str(tmp_path / "d" / "a.jsonl"), [record(0, prompt="P: "), record(1, prompt="P: ")])
    write_jsonl(str(tmp_path / "d" / "b.jsonl"), [record(2, type="normal")])
    (tmp_path / "d" / "empty.jsonl").write_text("\n")
    with open(tmp_path / "array.json", "w") as handle:
        json.dump([record(3)], handle)
    dataset = AbsEmbedderTrainDataset(data_args([tmp_path / "d", tmp_path / "array.json"]), bert_tokenizer).dataset
    assert len(dataset) == 4
    assert dataset["prompt"] == ["P: ", "P: ", None, None]
    assert dataset["type"] == [None, None, "normal", None]
    assert dataset["query"] == ["what is panda 0", "what is panda 1", "what is panda 2", "what is panda 3"]


def test_max_example_num_per_dataset_keeps_a_random_subset(tmp_path, bert_tokenizer):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(i) for i in range(10)])
    random.seed(0)
    dataset = AbsEmbedderTrainDataset(data_args([path], max_example_num_per_dataset=4), bert_tokenizer).dataset
    assert len(dataset) == 4
    assert len(set(dataset["query"])) == 4
    assert set(dataset["query"]) <= {f"what is panda {i}" for i in range(10)}


def test_teacher_scores_dropped_without_distillation(tmp_path, bert_tokenizer):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, scores=True)])
    dataset = AbsEmbedderTrainDataset(data_args([path]), bert_tokenizer)
    assert "pos_scores" not in dataset.dataset.column_names
    assert dataset[0][2] is None


# ---- bad records stop before training, naming file and line --------------------------------------------------
BAD_RECORDS = [
    ({"pos": ["a"], "neg": ["b"]}, "missing required field 'query'."),
    ({"query": "q", "neg": ["b"]}, "missing required field 'pos'."),
    ({"query": "q", "pos": [], "neg": ["b"]}, "'pos' must not be empty."),
    ({"query": 3, "pos": ["a"], "neg": ["b"]}, "'query' must be a string, got int."),
    ({"query": "q", "pos": "a", "neg": ["b"]}, "'pos' must be a list of strings, got str."),
    ({"query": "q", "pos": ["a", 5], "neg": ["b"]}, "'pos[1]' must be a string, got int (5)."),
    ({"query": "q", "pos": ["a"], "neg": [None]}, "'neg[0]' must be a string, got NoneType (None)."),
    ({"query": "q", "pos": ["a"], "neg": []}, "'neg' is missing or empty but train_group_size=8 needs 7 negative(s)"),
    ({"query": "q", "pos": ["a"]}, "'neg' is missing or empty but train_group_size=8"),
    ("[1, 2", "invalid JSON"),
    ("[1, 2]", "a record must be a JSON object, got list."),
]


@pytest.mark.parametrize("bad,message", BAD_RECORDS)
def test_bad_record_error_names_file_and_line(tmp_path, bert_tokenizer, bad, message):
    path = write_jsonl(str(tmp_path / "bad.jsonl"), [record(0), "", bad])
    with pytest.raises(ValueError) as error:
        AbsEmbedderTrainDataset(data_args([path]), bert_tokenizer)
    assert str(error.value).startswith(f"{path}, line 3: ")
    assert message in str(error.value)


def test_bad_record_in_json_array_names_the_record(tmp_path, bert_tokenizer):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([record(0), {"query": "q", "pos": [1]}]))
    with pytest.raises(ValueError, match=r"bad\.json, record 2: 'pos\[0\]' must be a string, got int \(1\)\."):
        AbsEmbedderTrainDataset(data_args([path]), bert_tokenizer)


def test_group_size_one_needs_no_negatives(tmp_path, bert_tokenizer):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [{"query": "q", "pos": ["p"]}])
    dataset = AbsEmbedderTrainDataset(data_args([path], train_group_size=1), bert_tokenizer)
    assert dataset[0] == ("q", ["p"], None)


@pytest.mark.parametrize("scores,message", [
    ({"pos_scores": [1.0], "neg_scores": ["x", 1, 2]}, "'neg_scores' must be a list of numbers."),
    ({"pos_scores": [1.0, 2.0], "neg_scores": [1, 2, 3]}, "'pos_scores' has 2 values but 'pos' has 1 passages."),
    ({"pos_scores": [1.0]}, "knowledge_distillation needs 'neg_scores' (a list of numbers)."),
    ({"pos_scores": [float("nan")], "neg_scores": [1, 2, 3]},
     "'pos_scores[0]' is nan; teacher scores must be finite numbers (re-score the record, e.g. with "
     "scripts/add_reranker_score.py)."),
    ({"pos_scores": [1.0], "neg_scores": [1, float("-inf"), 3]},
     "'neg_scores[1]' is -inf; teacher scores must be finite numbers (re-score the record, e.g. with "
     "scripts/add_reranker_score.py)."),
])
def test_bad_teacher_scores_with_distillation(tmp_path, bert_tokenizer, scores, message):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, **scores)])
    with pytest.raises(ValueError) as error:
        AbsEmbedderTrainDataset(data_args([path], knowledge_distillation=True), bert_tokenizer)
    assert str(error.value) == f"{path}, line 1: {message}"


def test_mixed_teacher_scores_rejected_by_standard_dataset(tmp_path, bert_tokenizer):
    scored = write_jsonl(str(tmp_path / "scored.jsonl"), [record(0, scores=True)])
    plain = write_jsonl(str(tmp_path / "plain.jsonl"), [record(1)])
    with pytest.raises(ValueError, match=f"{plain}, line 1: knowledge_distillation needs 'pos_scores'"):
        AbsEmbedderTrainDataset(data_args([scored, plain], knowledge_distillation=True), bert_tokenizer)


def test_mixed_teacher_scores_accepted_in_same_dataset_mode(tmp_path, bert_tokenizer):
    scored = write_jsonl(str(tmp_path / "scored.jsonl"), [record(i, scores=True) for i in range(2)])
    plain = write_jsonl(str(tmp_path / "plain.jsonl"), [record(i) for i in range(2)])
    args = data_args([scored, plain], knowledge_distillation=True, train_group_size=4)
    dataset = AbsEmbedderSameDatasetTrainDataset(args, default_batch_size=2, seed=1, tokenizer=bert_tokenizer)
    batches = [dataset[0] for _ in range(len(dataset))]
    assert len(batches) == 2
    with_scores = [b for b in batches if b[2] is not None]
    without_scores = [b for b in batches if b[2] is None]
    assert len(with_scores) == len(without_scores) == 1
    queries, groups, scores, _ = with_scores[0]
    for query, group, group_scores in zip(queries, groups, scores):  # scores stay aligned with the passages
        row = record(int(query.split()[-1]), scores=True)
        mapping = dict(zip(row["neg"], row["neg_scores"]))
        assert group_scores == [1.0] + [mapping[p] for p in group[1:]]


def test_bad_record_stops_the_cli_before_training(tmp_path, tiny_bert):
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.encoder_only.base import (
        EncoderOnlyEmbedderDataArguments,
        EncoderOnlyEmbedderModelArguments,
        EncoderOnlyEmbedderRunner,
        EncoderOnlyEmbedderTrainingArguments,
    )

    path = write_jsonl(str(tmp_path / "bad.jsonl"), [record(0), record(1), {"query": "q", "pos": []}])
    output = tmp_path / "out"
    argv = ["--model_name_or_path", tiny_bert, "--train_data", path, "--output_dir", str(output),
            "--report_to", "none"]
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 3: 'pos' must not be empty\."):
        run_main(EncoderOnlyEmbedderRunner, EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments,
                 EncoderOnlyEmbedderTrainingArguments, argv)
    assert not output.exists() or not os.listdir(output)


# ---- group sampling ------------------------------------------------------------------------------------------
def test_too_few_negatives_repeats_the_list_without_replacement():
    rng = random.Random(3)
    for _ in range(50):
        passages, scores = sample_group(["p"], ["a", "b"], 6, [9.0], [1.0, 2.0], rng)
        counts = Counter(passages[1:])
        assert passages[0] == "p" and len(passages) == 6
        assert set(counts) == {"a", "b"} and max(counts.values()) <= 3  # list repeated ceil(5/2)=3 times
        assert scores == [9.0] + [{"a": 1.0, "b": 2.0}[p] for p in passages[1:]]


def test_enough_negatives_are_distinct_and_positive_is_uniform():
    rng = random.Random(5)
    firsts = Counter()
    for _ in range(300):
        passages, scores = sample_group(["p1", "p2"], list("abcdef"), 4, rng=rng)
        assert len(set(passages[1:])) == 3 and scores is None
        firsts[passages[0]] += 1
    assert set(firsts) == {"p1", "p2"} and min(firsts.values()) > 100


def test_empty_negatives_at_sampling_time_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Cannot sample 3 negative\(s\) for a query without 'neg' passages\."):
        sample_group(["p"], [], 4)


def test_groups_are_reproducible_per_seed_and_epoch(tmp_path, bert_tokenizer):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, num_neg=7)])
    args = data_args([path], train_group_size=4)
    first = AbsEmbedderTrainDataset(args, bert_tokenizer, seed=11)
    again = AbsEmbedderTrainDataset(args, bert_tokenizer, seed=11)
    assert first[0] == again[0] == first[0]
    draws = set()
    for epoch in range(6):
        first.set_epoch(epoch)
        draws.add(tuple(first[0][1]))
    assert len(draws) > 1


def test_shuffle_text_cuts_long_positive_into_three_chunks():
    text = "".join(chr(ord("a") + i % 26) for i in range(120))
    shuffled = shuffle_text(text, 1.0, random.Random(0))
    size = 120 // 3 + 1
    chunks = [text[i:i + size] for i in range(0, 120, size)]
    assert sorted(shuffled.split(" ")) == sorted(chunks)
    assert shuffle_text(text, 0.0) == text
    assert shuffle_text(text[:100], 1.0) == text[:100]


# ---- instructions --------------------------------------------------------------------------------------------
def test_query_instruction_uses_row_prompt_and_null_falls_back(tmp_path, bert_tokenizer):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, prompt="Row: "), record(1, prompt=None)])
    args = data_args([path], query_instruction_for_retrieval="Global: ", query_instruction_format="{}|{}",
                     passage_instruction_for_retrieval="passage: ", train_group_size=2)
    dataset = AbsEmbedderTrainDataset(args, bert_tokenizer)
    assert dataset[0][0] == "Row: |what is panda 0"
    assert dataset[1][0] == "Global: |what is panda 1"
    assert all(p.startswith("passage: ") for p in dataset[0][1])


def test_no_instruction_means_plain_query(tmp_path, bert_tokenizer):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, prompt="Row: ")])
    dataset = AbsEmbedderTrainDataset(data_args([path], train_group_size=2), bert_tokenizer)
    assert dataset[0][0] == "what is panda 0"
    assert dataset[0][1][0] == PASSAGES[0]


# ---- same-dataset mode ---------------------------------------------------------------------------------------
def same(paths, batch=4, seed=0, rank=0, world=1, tokenizer=None, **kwargs):
    args = data_args(paths, **kwargs)
    return AbsEmbedderSameDatasetTrainDataset(args, default_batch_size=batch, seed=seed, tokenizer=tokenizer,
                                              process_index=rank, num_processes=world)


def test_same_dataset_batches_come_from_one_file_with_flags_and_sizes(tmp_path):
    folder = tmp_path / "classification-no_in_batch_neg"
    write_jsonl(str(folder / "cls.jsonl"), [record(i, type="symmetric_class") for i in range(6)])
    normal = write_jsonl(str(tmp_path / "normal.jsonl"), [record(100 + i, type="normal") for i in range(9)])
    own = write_jsonl(str(tmp_path / "own_no_in_batch_neg.jsonl"), [record(200 + i, batch_size=3) for i in range(6)])
    dataset = same([folder, normal, own], batch=4, train_group_size=4)
    sizes = {os.path.basename(p.name): (p.batch_size, p.no_in_batch_neg) for p in dataset.parts}
    assert sizes == {"cls.jsonl": (2, True), "normal.jsonl": (4, False), "own_no_in_batch_neg.jsonl": (3, True)}
    assert len(dataset) == 3 + 2 + 2  # 6//2 + 9//4 + 6//3 chunks (tails dropped)
    seen = Counter()
    for _ in range(len(dataset)):
        queries, groups, scores, flag = dataset[0]
        numbers = [int(q.split()[-1]) for q in queries]
        source = {n // 100 for n in numbers}
        assert len(source) == 1  # one file per batch
        seen[source.pop()] += 1
        expected = {0: (2, True), 1: (4, False), 2: (3, True)}[numbers[0] // 100]
        assert (len(queries), flag) == expected
    assert seen == {0: 3, 1: 2, 2: 2}


def test_same_dataset_group_size_per_batch_type(tmp_path):
    one_neg = write_jsonl(str(tmp_path / "nli.jsonl"), [record(i, num_neg=3, type="only_1neg") for i in range(2)])
    cls = write_jsonl(str(tmp_path / "cls.jsonl"), [record(i, num_neg=2, type="symmetric_class") for i in range(2)])
    own = write_jsonl(str(tmp_path / "own.jsonl"), [record(i, num_neg=5, train_group_size=3) for i in range(2)])
    plain = write_jsonl(str(tmp_path / "plain.jsonl"), [record(i, num_neg=5) for i in range(2)])
    expected = {"nli.jsonl": 2, "cls.jsonl": 3, "own.jsonl": 3, "plain.jsonl": 5}
    for path in (one_neg, cls, own, plain):
        dataset = same([path], batch=2, train_group_size=5)
        queries, groups, _, _ = dataset[0]
        assert {len(g) for g in groups} == {expected[os.path.basename(path)]}


def test_same_dataset_small_files_pooled_and_dropped(tmp_path):
    folder = tmp_path / "retrieval"
    write_jsonl(str(folder / "big.jsonl"), [record(i) for i in range(8)])
    write_jsonl(str(folder / "s1.jsonl"), [record(i, batch_size=2) for i in range(3)])
    write_jsonl(str(folder / "s2.jsonl"), [record(i, batch_size=3) for i in range(3)])
    lone = write_jsonl(str(tmp_path / "lone.jsonl"), [record(i) for i in range(3)])
    dataset = same([folder, lone], batch=4, small_threshold=5, drop_threshold=0)
    parts = {p.name: (len(p.dataset), p.batch_size) for p in dataset.parts}
    assert parts == {str(folder / "big.jsonl"): (8, 4), f"{folder} (pooled small files)": (6, 2)}
    dataset = same([folder], batch=4, small_threshold=5, drop_threshold=7)
    assert [p.name for p in dataset.parts] == [str(folder / "big.jsonl")]


def test_same_dataset_ranks_take_contiguous_slices_of_the_same_chunk(tmp_path):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(i) for i in range(12)])
    ranks = [same([path], batch=2, seed=3, rank=r, world=2, train_group_size=2) for r in range(2)]
    assert len(ranks[0]) == 3 * 2  # 12 // (2*2) chunks x W
    for _ in range(3):
        number = ranks[0].step
        chunk = ranks[0].batches[number][1]
        assert chunk.tolist() == ranks[1].batches[number][1].tolist()
        q0, q1 = ranks[0][0][0], ranks[1][0][0]
        expected = [f"what is panda {i}" for i in chunk]
        assert q0 + q1 == expected


def test_same_dataset_refresh_reshuffles_deterministically(tmp_path):
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(i) for i in range(16)])
    first, second = same([path], batch=2, seed=5), same([path], batch=2, seed=5)
    order = [b[1].tolist() for b in first.batches]
    assert order == [b[1].tolist() for b in second.batches]
    first[0]
    first.refresh_epoch()
    assert first.step == 0
    assert [b[1].tolist() for b in first.batches] != order


def test_same_dataset_queries_formatted_without_none_prefix(tmp_path):
    plain = write_jsonl(str(tmp_path / "plain.jsonl"), [record(i) for i in range(2)])
    sts = write_jsonl(str(tmp_path / "sts.jsonl"),
                      [record(i, type="symmetric_sts", prompt="Similar: ") for i in range(2)])
    batch = same([plain], batch=2, train_group_size=2)[0]
    assert sorted(batch[0]) == ["what is panda 0", "what is panda 1"]
    dataset = same([sts], batch=2, train_group_size=2, passage_instruction_for_retrieval="ignored: ")
    queries, groups, _, _ = dataset[0]
    assert all(q.startswith("Similar: what is panda") for q in queries)
    assert all(p.startswith("Similar: ") for group in groups for p in group)


def test_same_dataset_rows_of_one_batch_must_share_type(tmp_path):
    path = write_jsonl(str(tmp_path / "mixed.jsonl"), [record(0, type="normal"), record(1, type="only_1neg")])
    dataset = same([path], batch=2, train_group_size=2)
    with pytest.raises(ValueError, match=r"mixed\.jsonl: rows of one batch must share 'type'"):
        dataset[0]


@pytest.mark.parametrize("cache_flags", [[], ["--gradient_cache", "True", "--gradient_cache_chunk_size", "2"]],
                         ids=["uncached", "gradient_cache"])
def test_non_finite_loss_stops_training_with_a_clear_error(tmp_path, tiny_bert, cache_flags):
    """Finite but huge teacher scores overflow the distillation softmax: training stops at step 1, saves nothing
    (also with the cached loss, which checks before its backward)."""
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.encoder_only.base import (
        EncoderOnlyEmbedderDataArguments,
        EncoderOnlyEmbedderModelArguments,
        EncoderOnlyEmbedderRunner,
        EncoderOnlyEmbedderTrainingArguments,
    )
    from FlagEmbedding.utils.errors import NonFiniteLossError

    rows = [dict(record(i), pos_scores=[1e308], neg_scores=[-1e308] * 3) for i in range(4)]
    path = write_jsonl(str(tmp_path / "scored.jsonl"), rows)
    output = tmp_path / "out"
    argv = ["--model_name_or_path", tiny_bert, "--train_data", path, "--output_dir", str(output), "--report_to",
            "none", "--knowledge_distillation", "True", "--train_group_size", "4", "--per_device_train_batch_size",
            "2", "--max_steps", "2", "--save_steps", "1", *cache_flags]
    with pytest.raises(NonFiniteLossError, match=r"^the training loss is nan at step 1; training stopped before "
                                                r"updating the model\."):
        run_main(EncoderOnlyEmbedderRunner, EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments,
                 EncoderOnlyEmbedderTrainingArguments, argv)
    assert not output.exists() or not any(name.startswith("checkpoint-") for name in os.listdir(output))


def test_non_utf8_bytes_and_lone_surrogates_in_training_data_name_file_and_line(tmp_path, bert_tokenizer):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(record(0)).encode() + b'\n{"query": "caf\xe9", "pos": ["p"], "neg": ["n"]}\n')
    with pytest.raises(ValueError, match=rf"^{path}, line 2: not valid UTF-8 \(byte 0xe9 at column 15\); re-save "
                                         r"the file as UTF-8\.$"):
        AbsEmbedderTrainDataset(data_args([path]), bert_tokenizer)
    path.write_text(json.dumps(record(0)) + '\n{"query": "q \\ud83d", "pos": ["p"], "neg": ["n"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{path}, line 2: the text holds a lone surrogate \('\\ud83d'\)"):
        AbsEmbedderTrainDataset(data_args([path]), bert_tokenizer)
    array = tmp_path / "bad.json"
    array.write_text(json.dumps([record(0)]).replace('"query": "', '"query": "\\udc00'), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{array}, record 1: the text holds a lone surrogate"):
        AbsEmbedderTrainDataset(data_args([array]), bert_tokenizer)
