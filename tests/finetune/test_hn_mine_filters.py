"""scripts/hn_mine.py false-negative filters: the pure filter functions with numbers, mining with a table
embedder / reranker (known scores), and the command line with real checkpoints (MiniLM, tiny reranker)."""
from __future__ import annotations

import json
import logging
import math
import random

import numpy as np
import pytest

from FlagEmbedding.finetune.data_scripts.hn_mine import main, mine_hard_negatives
from FlagEmbedding.finetune.data_scripts.negative_filters import (
    NegativeFilters, count_summary, filter_candidates, positive_reference, relative_threshold, sample_negatives,
)
from tests.helpers.files import write_jsonl

# ---------------------------------------------------------------------------------------------- pure functions
SCORES = [0.9, 0.8, 0.75, 0.7499, 0.5]
NAMES = ["a", "b", "c", "d", "e"]


def kept_and_removed(filters, positive=0.8):
    removed = {"max_score": 0, "absolute_margin": 0, "relative_margin": 0}
    return filter_candidates(NAMES, SCORES, positive, filters, removed), removed


def test_max_score_drops_what_scores_above_the_ceiling():
    assert kept_and_removed(NegativeFilters(max_score=0.75)) == (
        ["c", "d", "e"], {"max_score": 2, "absolute_margin": 0, "relative_margin": 0})


def test_absolute_margin_keeps_only_what_scores_below_positive_minus_margin():
    # 0.8 - 0.05 = 0.75: 0.75 itself is not below it
    assert kept_and_removed(NegativeFilters(absolute_margin=0.05)) == (
        ["d", "e"], {"max_score": 0, "absolute_margin": 3, "relative_margin": 0})
    assert kept_and_removed(NegativeFilters(absolute_margin=0.0))[0] == ["c", "d", "e"]  # strictly below p


def test_relative_margin_keeps_only_what_scores_below_a_fraction_of_the_positive():
    # 0.8 * (1 - 0.25) = 0.6
    assert kept_and_removed(NegativeFilters(relative_margin=0.25)) == (
        ["e"], {"max_score": 0, "absolute_margin": 0, "relative_margin": 4})


def test_a_removal_is_counted_once_for_the_first_filter_that_fails():
    filters = NegativeFilters(max_score=0.85, absolute_margin=0.05, relative_margin=0.25)
    assert kept_and_removed(filters) == (["e"], {"max_score": 1, "absolute_margin": 2, "relative_margin": 1})
    assert [filters.removal_reason(s, 0.8) for s in SCORES] == [
        "max_score", "absolute_margin", "absolute_margin", "relative_margin", None]


def test_relative_threshold_stays_below_a_negative_positive_score():
    assert relative_threshold(0.8, 0.25) == pytest.approx(0.6)
    assert relative_threshold(-2.0, 0.25) == pytest.approx(-2.5)  # p*(1-R) would be -1.5, above the positive
    filters = NegativeFilters(relative_margin=0.25)
    assert filter_candidates(["x", "y"], [-2.4, -2.6], -2.0, filters) == ["y"]


def test_nan_scores_are_removed_and_no_filter_keeps_everything():
    assert NegativeFilters(max_score=1.0).removal_reason(math.nan, None) == "max_score"
    assert NegativeFilters(absolute_margin=0.1).removal_reason(math.nan, 0.5) == "absolute_margin"
    assert filter_candidates(NAMES, SCORES, None, NegativeFilters()) == NAMES


def test_margins_need_the_positive_score():
    with pytest.raises(ValueError, match="^positive: a margin filter needs the score of the least similar positive"):
        NegativeFilters(absolute_margin=0.1).removal_reason(0.3, None)
    assert NegativeFilters(max_score=0.5).removal_reason(0.3, None) is None


def test_least_similar_positive_is_the_reference():
    assert positive_reference([0.9, 0.6, 0.7]) == 0.6 and positive_reference([]) is None


@pytest.mark.parametrize("kwargs,message", [
    ({"absolute_margin": -0.1}, "--absolute_margin must be >= 0 (how far below the least similar positive a "
                                "negative must score), got -0.1."),
    ({"relative_margin": 1.0}, "--relative_margin must be in [0, 1) (the fraction of the least similar positive's "
                               "score a negative must stay below it), got 1.0."),
    ({"relative_margin": -0.5}, "--relative_margin must be in [0, 1) (the fraction of the least similar positive's "
                                "score a negative must stay below it), got -0.5."),
    ({"max_score": math.inf}, "--max_score must be a finite number, got inf."),
    ({"absolute_margin": math.nan}, "--absolute_margin must be a finite number, got nan."),
])
def test_bad_filter_values_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        NegativeFilters(**kwargs)
    assert str(error.value) == message


def test_sampling_strategies():
    ranked = list(range(10))
    assert sample_negatives(ranked, 3, "top") == [0, 1, 2]
    assert sample_negatives(ranked[:2], 3, "random") == [0, 1]  # fewer than asked: all, in rank order
    random.seed(5)
    expected = random.sample(ranked, 4)
    random.seed(5)
    assert sample_negatives(ranked, 4, "random") == expected  # the module's generator, as 1.4.2 drew
    assert sample_negatives(ranked, 4, "random", rng=random.Random(5)) == random.Random(5).sample(ranked, 4)
    with pytest.raises(ValueError, match="^strategy must be one of random, top, got 'best'"):
        sample_negatives(ranked, 3, "best")


def test_count_summary():
    assert count_summary([3, 1, 4, 4]) == (1, 3.5) and count_summary([]) == (None, None)


# ---------------------------------------------------------------------------------------------- mining, known scores
class TableEmbedder:
    """Every query is (1, 0); text t is (s, sqrt(1 - s^2)) for its table score s, so its search score is s."""

    def __init__(self, scores):
        self.scores = scores

    def encode_corpus(self, texts):
        return np.array([[self.scores[t], math.sqrt(1 - self.scores[t] ** 2)] for t in texts], dtype=np.float32)

    def encode_queries(self, texts):
        return np.array([[1.0, 0.0] for _ in texts], dtype=np.float32)


class TableReranker:
    """``compute_score`` looks the passage up in a table (the query is ignored); records every call."""

    def __init__(self, scores):
        self.scores, self.calls = scores, []

    def compute_score(self, pairs):
        self.calls.append([list(pair) for pair in pairs])
        return [self.scores[passage] for _, passage in pairs]


POSITIVE = "The giant panda is a bear species endemic to China."
DUPLICATE = POSITIVE + " "  # an unlabelled duplicate: another string, the same passage
EMBEDDER = {POSITIVE: 0.8, DUPLICATE: 0.8, "c1": 0.6, "c2": 0.5, "c3": 0.4, "c4": 0.3, "c5": 0.2, "c6": 0.1}
CORPUS = list(EMBEDDER)
RECORD = {"query": "what is a giant panda?", "pos": [POSITIVE]}


def mine(filters=None, embedder=EMBEDDER, records=(RECORD,), number=10, **kwargs):
    kwargs.setdefault("underfilled", "keep")
    kwargs.setdefault("sampling_strategy", "top")
    stats = {}
    mined = mine_hard_negatives(TableEmbedder(embedder), [dict(r) for r in records], list(embedder),
                                 kwargs.pop("range_for_sampling", "0-8"), number, filters=filters, stats=stats,
                                 **kwargs)
    return mined, stats


@pytest.mark.parametrize("filters", [NegativeFilters(max_score=0.7), NegativeFilters(absolute_margin=0.05),
                                     NegativeFilters(relative_margin=0.05)], ids=["max_score", "absolute", "relative"])
def test_each_filter_removes_the_unlabelled_duplicate_the_baseline_keeps(filters):
    baseline, _ = mine()
    assert baseline[0]["neg"] == [DUPLICATE, "c1", "c2", "c3", "c4", "c5", "c6"]
    mined, stats = mine(filters)
    assert mined[0]["neg"] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    name = next(n for n in ("max_score", "absolute_margin", "relative_margin") if getattr(filters, n) is not None)
    assert stats["removed"]["embedder"][name] == 1 and stats["removed_total"] == 1
    assert stats["candidates_seen"] == 7  # the 8 texts minus the positive


def test_the_reranker_check_removes_a_duplicate_the_embedder_missed():
    embedder = {**EMBEDDER, DUPLICATE: 0.35}  # the embedder ranks the duplicate low: its filter keeps it
    reranker_scores = {POSITIVE: 0.95, DUPLICATE: 0.94, "c1": 0.3, "c2": 0.2, "c3": 0.6, "c4": 0.1, "c5": 0.1,
                       "c6": 0.1}
    filters = NegativeFilters(absolute_margin=0.05)
    baseline, _ = mine(embedder=embedder, reranker=TableReranker(reranker_scores))
    assert DUPLICATE in baseline[0]["neg"]
    embedder_only, _ = mine(filters, embedder=embedder)
    assert DUPLICATE in embedder_only[0]["neg"]
    reranker = TableReranker(reranker_scores)
    mined, stats = mine(filters, embedder=embedder, reranker=reranker, output_scores=True)
    assert mined[0]["neg"] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert stats["removed"] == {"embedder": {"max_score": 0, "absolute_margin": 0, "relative_margin": 0},
                                "reranker": {"max_score": 0, "absolute_margin": 1, "relative_margin": 0}}
    # the reranker scored the positive, then the survivors of the embedder filter (all 7 candidates)
    assert reranker.calls[0] == [[RECORD["query"], POSITIVE]]
    assert sorted(p for _, p in reranker.calls[1]) == sorted(t for t in CORPUS if t != POSITIVE)
    assert mined[0]["pos_scores"] == [0.95] and mined[0]["neg_scores"] == [0.3, 0.2, 0.6, 0.1, 0.1, 0.1]
    assert stats["scores"] == "reranker"


def test_the_least_similar_of_several_positives_is_the_reference():
    table = {"p1": 0.9, "p2": 0.6, "c7": 0.7, "c5": 0.5, "c4": 0.4}
    record = {"query": "q", "pos": ["p1", "p2"]}
    mined, stats = mine(NegativeFilters(absolute_margin=0.05), embedder=table, records=[record])
    assert mined[0]["neg"] == ["c5", "c4"]  # < 0.6 - 0.05; against p1 (0.9 - 0.05) c7 would pass too
    assert stats["removed"]["embedder"]["absolute_margin"] == 1
    reranker = TableReranker({"p1": 2.0, "p2": -1.0, "c7": -0.5, "c5": -1.05, "c4": -3.0})
    mined, stats = mine(NegativeFilters(relative_margin=0.1), embedder=table, records=[record], reranker=reranker,
                        output_scores=True)
    # embedder: < 0.6 * 0.9 = 0.54 keeps c5, c4; reranker: < -1.0 - 0.1 = -1.1 keeps only c4 (against p1: both)
    assert mined[0]["neg"] == ["c4"] and mined[0]["pos_scores"] == [2.0, -1.0]
    assert stats["removed"]["embedder"]["relative_margin"] == 1 and stats["removed"]["reranker"]["relative_margin"] == 1


def test_output_scores_are_the_embedder_scores_without_a_reranker():
    mined, stats = mine(NegativeFilters(max_score=0.7), output_scores=True, number=3)
    assert mined[0]["neg"] == ["c1", "c2", "c3"]
    assert mined[0]["pos_scores"] == pytest.approx([0.8], abs=1e-6)
    assert mined[0]["neg_scores"] == pytest.approx([0.6, 0.5, 0.4], abs=1e-6)
    assert stats["scores"] == "embedder"


def test_output_scores_off_keeps_stale_scores_and_on_replaces_them():
    record = {**RECORD, "pos_scores": [9.0], "neg_scores": [9.0]}
    assert mine(records=[record], number=2)[0][0]["neg_scores"] == [9.0]
    assert mine(records=[record], number=2, output_scores=True)[0][0]["neg_scores"] == pytest.approx([0.8, 0.6])


def test_underfilled_queries_are_kept_dropped_padded_or_topped_up(caplog):
    filters = NegativeFilters(absolute_margin=0.05)
    records = [RECORD, {"query": "another", "pos": ["c6"]}]  # c6 scores 0.1: no candidate is below 0.05
    with caplog.at_level(logging.WARNING, logger="FlagEmbedding.finetune.data_scripts.hn_mine"):
        kept, stats = mine(filters, records=records, number=3, range_for_sampling="0-3")
    assert [m["neg"] for m in kept] == [["c1"], []]  # ranks 0-2: positive, duplicate (removed), c1
    assert stats["records_without_negatives"] == [2]
    assert ("1 written records have no negative (records 2 of the output): fine-tuning with --train_group_size > 1 "
            "refuses them; mine again with --underfilled drop") in caplog.text
    assert (stats["queries_underfilled"], stats["underfilled_records"], stats["records_short"]) == (2, [1, 2], 2)
    assert stats["negatives_per_query"] == {"min": 0, "median": 0.5}
    dropped, stats = mine(filters, records=records, number=1, range_for_sampling="0-3", underfilled="drop")
    assert [m["query"] for m in dropped] == [RECORD["query"]] and stats["records_dropped"] == 1
    assert stats["records_without_negatives"] == []
    padded, stats = mine(filters, records=records, number=3, range_for_sampling="0-3", underfilled="pad")
    assert padded[0]["neg"] == ["c1", "c2", "c3"] and padded[1]["neg"] == []  # below the range, in rank order
    assert stats["filled"]["added"] == 2 and stats["records_short"] == 1
    for seed in range(5):
        random.seed(seed)
        expected = random.sample(["c2", "c3", "c4", "c5", "c6"], 3)  # corpus passages that pass the filter
        random.seed(seed)
        topped, _ = mine(filters, records=records, number=4, range_for_sampling="0-3", underfilled="random")
        assert topped[0]["neg"] == ["c1", *expected] and topped[1]["neg"] == []  # never the duplicate


def test_padding_with_a_reranker_skips_what_it_rejects():
    reranker = TableReranker({POSITIVE: 0.9, DUPLICATE: 0.9, "c1": 0.2, "c2": 0.88, "c3": 0.3, "c4": 0.1,
                              "c5": 0.1, "c6": 0.1})
    mined, stats = mine(NegativeFilters(absolute_margin=0.05), number=3, range_for_sampling="0-3",
                        underfilled="pad", reranker=reranker)
    assert mined[0]["neg"] == ["c1", "c3", "c4"]  # c2 (0.88 by the reranker) is not below 0.9 - 0.05
    assert stats["filled"]["removed"]["reranker"]["absolute_margin"] == 1


def test_padding_rescores_in_doubling_rounds_when_the_reranker_rejects_many():
    """The reranker rejects every passage below the range but three far down: the padding takes those three, in
    rank order, in a handful of calls (rounds of 3, 6, 12, ... passages, not one round per 3 rescored)."""
    embedder = {POSITIVE: 0.95, **{f"c{i}": 0.9 - i / 100 for i in range(1, 61)}}
    accepted = {"c33", "c41", "c57"}
    reranker = TableReranker({POSITIVE: 0.9, **{name: 0.1 if name in accepted else 0.89 for name in embedder
                                                if name != POSITIVE}})
    mined, stats = mine(NegativeFilters(absolute_margin=0.05), embedder=embedder, number=3,
                        range_for_sampling="0-3", underfilled="pad", reranker=reranker)
    assert mined[0]["neg"] == ["c33", "c41", "c57"]
    assert stats["filled"]["added"] == 3
    rescored = [passage for call in reranker.calls[1:] for _, passage in call]
    assert len(set(rescored)) == len(rescored)  # no passage scored twice
    assert rescored[:3] == ["c1", "c2", "c3"] and "c57" in rescored  # the range, then below it in rank order
    assert len(reranker.calls) <= 10, [len(call) for call in reranker.calls]


def test_padding_rescores_only_what_is_needed_when_the_reranker_accepts():
    embedder = {POSITIVE: 0.95, **{f"c{i}": 0.9 - i / 100 for i in range(1, 61)}}
    reranker = TableReranker({POSITIVE: 0.9, **{name: 0.1 for name in embedder if name != POSITIVE}})
    mined, _ = mine(NegativeFilters(absolute_margin=0.05), embedder=embedder, number=7, range_for_sampling="0-3",
                    underfilled="pad", reranker=reranker)
    assert mined[0]["neg"] == [f"c{i}" for i in range(1, 8)]
    assert [len(call) for call in reranker.calls] == [1, 2, 5]  # the positive, the range (c1, c2), the 5 missing


def test_sampling_strategy_top_takes_the_best_ranked_survivors():
    mined, _ = mine(NegativeFilters(absolute_margin=0.05), number=2, sampling_strategy="top")
    assert mined[0]["neg"] == ["c1", "c2"]
    random.seed(0)
    sampled, _ = mine(NegativeFilters(absolute_margin=0.05), number=2, sampling_strategy="random")
    random.seed(0)
    assert sampled[0]["neg"] == random.sample(["c1", "c2", "c3", "c4", "c5", "c6"], 2)


def test_bad_strategy_or_action_in_the_api_names_the_argument():
    with pytest.raises(ValueError, match="^sampling_strategy must be one of random, top, got 'best'"):
        mine(sampling_strategy="best")
    with pytest.raises(ValueError, match="^underfilled must be one of random, keep, drop, pad, got 'fill'"):
        mine(underfilled="fill")


# ---------------------------------------------------------------------------------------------- command line
def argv_for(tmp_path, model, *extra):
    return ["--input_file", str(tmp_path / "in.jsonl"), "--output_file", str(tmp_path / "out.jsonl"),
            "--candidate_pool", str(tmp_path / "pool.jsonl"), "--embedder_name_or_path", model,
            "--devices", "cpu", "--use_fp16", "False", *extra]


def write_inputs(tmp_path, records, pool):
    write_jsonl(str(tmp_path / "in.jsonl"), records)
    write_jsonl(str(tmp_path / "pool.jsonl"), [{"text": text} for text in pool])


MINILM_POOL = [DUPLICATE, "Bamboo makes up most of a panda's diet.", "Paris is the capital of France.",
               "Deep learning models embed text into dense vectors.", "The stock market fell sharply on Monday.",
               "Photosynthesis converts light into chemical energy."]


def test_each_filter_removes_the_duplicate_with_minilm(minilm, tmp_path):
    """A real embedder: the duplicate scores like the positive; the API with each filter, then the command line."""
    from FlagEmbedding import FlagModel

    reference = FlagModel(minilm, pooling_method="mean", devices="cpu", use_fp16=False)
    query = reference.encode_queries([RECORD["query"]])[0]
    scores = dict(zip(MINILM_POOL + [POSITIVE], reference.encode_corpus(MINILM_POOL + [POSITIVE]) @ query))
    assert abs(scores[DUPLICATE] - scores[POSITIVE]) < 1e-4  # it scores like the positive
    others = max(scores[t] for t in MINILM_POOL[1:])
    assert others < scores[POSITIVE] * 0.98 - 1e-3  # the filters below keep every other passage
    ranked = sorted(MINILM_POOL[1:], key=lambda t: -scores[t])
    settings = {"range_for_sampling": "0-10", "negative_number": 10, "underfilled": "keep", "sampling_strategy": "top"}
    baseline = mine_hard_negatives(reference, [dict(RECORD)], MINILM_POOL, **settings)
    assert baseline[0]["neg"] == sorted(MINILM_POOL, key=lambda t: -scores[t])  # the duplicate first
    for filters in (NegativeFilters(max_score=float(others + scores[POSITIVE]) / 2),
                    NegativeFilters(absolute_margin=0.02), NegativeFilters(relative_margin=0.02)):
        assert mine_hard_negatives(reference, [dict(RECORD)], MINILM_POOL, filters=filters,
                                   **settings)[0]["neg"] == ranked, filters

    write_inputs(tmp_path, [RECORD], MINILM_POOL)
    main(argv_for(tmp_path, minilm, "--range_for_sampling", "0-10", "--negative_number", "10", "--underfilled",
                  "keep", "--sampling_strategy", "top", "--output_scores", "--absolute_margin", "0.02",
                  "--embedder_model_class", "encoder-only-base", "--pooling_method", "mean"))
    mined = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert mined["neg"] == ranked
    assert mined["neg_scores"] == pytest.approx([float(scores[t]) for t in ranked], abs=1e-5)
    assert mined["pos_scores"] == pytest.approx([float(scores[POSITIVE])], abs=1e-5)
    stats = json.loads((tmp_path / "out.jsonl.stats.json").read_text(encoding="utf-8"))
    assert stats["candidates_seen"] == 6 and stats["removed_total"] == 1
    assert stats["removed"]["embedder"] == {"max_score": 0, "absolute_margin": 1, "relative_margin": 0}
    assert stats["negatives_per_query"] == {"min": 5, "median": 5.0} and stats["queries_underfilled"] == 1


def test_cli_reranker_scores_and_stats_file(tiny_bert, tiny_reranker, tmp_path, caplog):
    from FlagEmbedding import FlagReranker

    records = [{"query": f"what is panda {i}", "pos": [f"panda fact {i}", f"panda note {i}"]} for i in range(3)]
    pool = [f"pool passage number {i}" for i in range(8)]
    write_inputs(tmp_path, records, pool)
    stats_file = tmp_path / "stats" / "mine.json"
    stats_file.parent.mkdir()
    with caplog.at_level(logging.INFO, logger="FlagEmbedding.finetune.data_scripts.hn_mine"):
        main(argv_for(tmp_path, tiny_bert, "--range_for_sampling", "0-8", "--negative_number", "3",
                      "--reranker_name_or_path", tiny_reranker, "--reranker_max_length", "64",
                      "--max_score", "1000", "--output_scores", "True", "--stats_file", str(stats_file)))
    mined = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    reference = FlagReranker(tiny_reranker, devices="cpu", use_fp16=False, max_length=64)
    for record, result in zip(records, mined):
        assert len(result["neg"]) == 3 and set(result["neg"]) <= set(pool)
        expected = reference.compute_score([[record["query"], t] for t in record["pos"] + result["neg"]])
        assert result["pos_scores"] + result["neg_scores"] == pytest.approx(expected, abs=1e-5)
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    assert not (tmp_path / "out.jsonl.stats.json").exists()
    assert stats["scores"] == "reranker" and stats["queries"] == 3 and stats["candidates_seen"] == 24
    assert stats["filters"] == {"max_score": 1000.0, "absolute_margin": None, "relative_margin": None}
    assert stats["removed_total"] == 0 and stats["negatives_per_query"] == {"min": 3, "median": 3.0}
    assert set(stats["seconds"]) >= {"encode", "search", "rerank", "total"}
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Mined 3 queries")]
    assert len(summary) == 1 and "24 candidates in range, 0 removed" in summary[0]


@pytest.mark.parametrize("extra,message", [
    (["--absolute_margin", "-0.1"], "--absolute_margin must be >= 0"),
    (["--relative_margin", "1"], r"--relative_margin must be in \[0, 1\)"),
    (["--max_score", "nan"], "--max_score must be a finite number, got nan."),
    (["--stats_file", "{out}"], "--stats_file {out} would overwrite the input or output file"),
    (["--absolute_margin", "0.1"], r"in\.jsonl, record 2: 'pos' is empty, but --absolute_margin / --relative_margin"),
])
def test_cli_bad_values_fail_before_any_model_loads(extra, message, tmp_path):
    write_inputs(tmp_path, [RECORD, {"query": "q", "pos": []}], ["x"])
    out = str(tmp_path / "out.jsonl")
    with pytest.raises(ValueError, match=message.format(out=out)):
        main(argv_for(tmp_path, str(tmp_path / "no-model"), *[e.format(out=out) for e in extra]))


@pytest.mark.parametrize("extra,message", [
    (["--sampling_strategy", "best"], "error: argument --sampling_strategy/--sampling-strategy: invalid choice: 'best' "
                                       "(choose from 'random', 'top')"),
    (["--underfilled", "fill"], "error: argument --underfilled: invalid choice: 'fill' (choose from 'random', "
                                 "'keep', 'drop', 'pad')"),
    (["--output_scores", "scores.json"], "error: argument --output_scores/--output-scores: Truthy value expected: got "
                                              "scores.json but expected one of yes/no"),
])
def test_cli_bad_choices_are_one_line_errors(extra, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv_for(tmp_path, "m", *extra))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
